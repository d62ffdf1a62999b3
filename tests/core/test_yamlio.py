"""Safe YAML reading: plain data only, duplicate keys refused, errors located as file:line:col."""

from __future__ import annotations

import os
import re

import pytest

from sciconv.errors import ConfigError, NotFoundError
from sciconv.yamlio import dump_yaml, parse_yaml, read_yaml


def test_plain_yaml_is_parsed_to_plain_python_data() -> None:
    text = "a: 1\nb: [1, 2.5, x]\nc: {d: true, e: null}\nf: '3'\n"
    assert parse_yaml(text) == {"a": 1, "b": [1, 2.5, "x"], "c": {"d": True, "e": None}, "f": "3"}


@pytest.mark.parametrize(("text", "value"), [("3e-4", 3e-4), ("1E3", 1000.0), ("-2.5e-3", -2.5e-3), ("1.0e+2", 100.0)])
def test_scientific_notation_is_a_float(text: str, value: float) -> None:
    # YAML 1.2 (and every scientist) reads 3e-4 as a number; PyYAML's YAML 1.1 resolver reads a string.
    parsed = parse_yaml(f"lr: {text}\n")["lr"]
    assert isinstance(parsed, float), f"{text!r} parsed as {parsed!r}"
    assert parsed == pytest.approx(value)


def test_empty_text_is_none() -> None:
    assert parse_yaml("") is None
    assert parse_yaml("# only a comment\n") is None


def test_same_key_in_different_mappings_is_allowed() -> None:
    assert parse_yaml("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}


def test_duplicate_top_level_key_names_the_key_and_both_lines() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", "p.yaml")
    message = str(info.value)
    assert "'a'" in message
    assert "line 1" in message  # the first definition
    assert message.startswith("p.yaml:3:1:")  # the second definition
    assert "duplicate key" in message


def test_duplicate_nested_key_names_the_key_and_both_lines() -> None:
    text = "train:\n  epochs: 3\n  lr: 0.1\n  epochs: 4\n"
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "p.yaml")
    message = str(info.value)
    assert "duplicate key 'epochs'" in message
    assert "line 2" in message
    assert message.startswith("p.yaml:4:3:")


def test_duplicate_key_in_flow_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"duplicate key 'a'"):
        parse_yaml("{a: 1, a: 2}", "p.yaml")


def test_duplicate_key_in_a_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "pipe.yaml"
    path.write_text("task: {name: a.b}\nmodel: {name: a.b}\ntask: {name: c.d}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert str(info.value).startswith(f"{path}:3:1:")
    assert "'task'" in str(info.value)
    assert "line 1" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("a: [1, 2\n", 2, 1),  # unclosed flow sequence: reported at the end of the stream
        ("a: 1\nb:\n  c: 1\n d: 2\n", 4, 2),  # bad indentation
        ("a: 1\n\tb: 2\n", 2, 1),  # a tab cannot start a token
        ("a: 'unterminated\nb: 2\n", 3, 1),
    ],
)
def test_malformed_yaml_reports_file_line_and_column(tmp_path, text: str, line: int, col: int) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:{col}: malformed YAML: "), message
    assert "\n" not in message  # one line, as the CLI prints it


def test_parse_error_carries_no_yaml_traceback_chain() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: [", "s")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    "template",
    [
        "!!python/object/apply:os.system ['touch {marker}']\n",
        "run: !!python/object/apply:os.system ['touch {marker}']\n",
        "run: !!python/object/apply:subprocess.call [['touch', '{marker}']]\n",
        "run: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "run: !!python/name:os.system\n",
        "run: !!python/module:os\n",
        "run: !!python/object:argparse.Namespace {{a: 1}}\n",
    ],
)
def test_python_tags_are_refused_and_never_executed(tmp_path, monkeypatch, template: str) -> None:
    marker = tmp_path / "executed"
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a, **k: calls.append(a) or 0)
    path = tmp_path / "evil.yaml"
    path.write_text(template.format(marker=marker), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", str(info.value))
    assert "python/" in str(info.value)  # names the refused tag
    assert not marker.exists()
    assert calls == []


def test_unhashable_key_is_a_config_error_with_location() -> None:
    # A complex (sequence) key is valid YAML syntax but cannot be a mapping key in Python; it must be
    # reported like any other bad input, not escape as a TypeError.
    with pytest.raises(ConfigError) as info:
        parse_yaml("ok: 1\n? [a, b]\n: 1\n", "p.yaml")
    assert str(info.value).startswith("p.yaml:2:")


def test_read_missing_file_is_not_found(tmp_path) -> None:
    with pytest.raises(NotFoundError, match="file not found"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(NotFoundError):
        read_yaml(tmp_path)  # a directory is not a file


def test_read_non_utf8_file_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("description: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        read_yaml(path)


def test_dump_keeps_key_order_and_round_trips() -> None:
    data = {"z": 1, "a": {"y": [1, 2], "b": None}, "m": "text: with colon", "f": 0.0003}
    text = dump_yaml(data)
    assert text.index("z:") < text.index("a:") < text.index("m:")
    assert parse_yaml(text) == data
    assert "{" not in text  # block style
