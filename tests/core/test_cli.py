"""The ``pipeline`` command, in-process and as a real process (exit codes, one-line errors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import sciconv
from sciconv import cli
from sciconv.registry import STRICT_ENV, get_registry, reset_registry, set_strict
from sciconv.yamlio import dump_yaml, parse_yaml

SUBCOMMANDS = ["list", "show", "run", "plugins", "validate"]


@pytest.fixture(autouse=True)
def clean_state(monkeypatch) -> Iterator[None]:
    """``main`` may switch on strict mode and replace ``warnings.showwarning``: undo both."""
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    set_strict(None)
    yield
    set_strict(None)
    reset_registry()


def run_main(capsys, args: Sequence[str]) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(
    args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (STRICT_ENV, "PYTHONWARNINGS")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sciconv", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_one_error(stderr: str, *parts: str) -> str:
    """Exactly one ``error:`` line, no traceback, and every part in it."""
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def demo_file(tmp_path) -> Path:
    """A copy of the demo pipeline file, outside the package."""
    source = get_registry().load("pipelines", "demo-signal")
    target = tmp_path / "demo-copy.yaml"
    shutil.copy(source, target)
    return target


def edited(path: Path, change: Any) -> Path:
    data = parse_yaml(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


# --- version and help ---------------------------------------------------------------------------


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sciconv {sciconv.__version__}"


def test_help(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out
    assert "--strict-plugins" in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: pipeline {command}")


def test_no_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_version_in_a_process() -> None:
    proc = run_process(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"sciconv {sciconv.__version__}"


# --- list and plugins -----------------------------------------------------------------------------


def test_list(capsys) -> None:
    code, out, err = run_main(capsys, ["list"])
    assert code == 0
    assert err == ""
    line = next(line for line in out.splitlines() if line.startswith("demo-signal"))
    assert line.split()[1] == "demo"
    assert "Oscillation frequency classification" in line


def test_list_json(capsys) -> None:
    code, out, _ = run_main(capsys, ["list", "--json"])
    assert code == 0
    rows = json.loads(out)
    demo = next(row for row in rows if row["name"] == "demo-signal")
    assert set(demo) == {"name", "plugin", "description"}
    assert demo["plugin"] == "demo"
    assert demo["description"].startswith("Oscillation frequency classification")


def test_plugins_json(capsys) -> None:
    code, out, _ = run_main(capsys, ["plugins", "--json"])
    assert code == 0
    plugins = {item["name"]: item for item in json.loads(out)}
    assert {"core", "demo"} <= set(plugins)
    for item in plugins.values():
        assert {"name", "version", "hooks", "error", "contributes"} <= set(item)
    core, demo = plugins["core"], plugins["demo"]
    assert core["error"] is None and demo["error"] is None
    assert core["version"] == demo["version"] == sciconv.__version__
    assert core["hooks"] == ["register_conv_backends"]
    assert core["contributes"]["conv_backends"] == ["auto", "fft", "im2win", "torch"]
    assert demo["hooks"] == ["register_datasets", "register_models", "register_pipelines", "register_tasks"]
    assert demo["contributes"] == {
        "datasets": ["demo.oscillations"],
        "models": ["demo.cnn1d"],
        "tasks": ["demo.classify"],
        "pipelines": ["demo-signal"],
        "conv_backends": [],
    }


def test_plugins_text(capsys) -> None:
    code, out, _ = run_main(capsys, ["plugins"])
    assert code == 0
    assert f"demo {sciconv.__version__}" in out
    assert "pipelines: demo-signal" in out
    assert "conv_backends: auto, fft, im2win, torch" in out


def test_list_and_plugins_do_not_import_torch() -> None:
    code = (
        "import sys; from sciconv.cli import main; "
        "assert main(['list']) == 0; assert main(['plugins', '--json']) == 0; "
        "print('TORCH', 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("TORCH False")


# --- show -----------------------------------------------------------------------------------------


def test_show_with_override(capsys) -> None:
    code, out, _ = run_main(capsys, ["show", "demo-signal", "train.epochs=3", "model.params.n_filters=8"])
    assert code == 0
    shown = parse_yaml(out)
    assert shown["name"] == "demo-signal"
    assert shown["train"]["epochs"] == 3
    assert shown["model"] == {"name": "demo.cnn1d", "params": {"n_filters": 8, "n_blocks": 3}}
    assert shown["conv"]["backend"] == "torch"
    assert "epochs: 3\n" in out


def test_overrides_may_follow_the_flags(capsys, tmp_path) -> None:
    code, _, err = run_main(
        capsys, ["run", "demo-signal", "--run-dir", str(tmp_path / "run"), "train.epochs=1", "train.progress=false"]
    )
    assert code == 0, err
    assert parse_yaml((tmp_path / "run" / "config.yaml").read_text())["train"]["epochs"] == 1
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "demo-signal", "--run-dir", str(tmp_path / "other"), "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["list", "train.epochs=1"])  # list takes no overrides


def test_show_unknown_pipeline_suggests(capsys) -> None:
    code, out, err = run_main(capsys, ["show", "demo-signl"])
    assert code == 2
    assert out == ""
    assert_one_error(err, "'demo-signl'", "did you mean 'demo-signal'")


def test_show_unknown_pipeline_in_a_process() -> None:
    proc = run_process(["show", "demo-signl"])
    assert proc.returncode == 2
    assert_one_error(proc.stderr, "did you mean 'demo-signal'")


def test_show_bad_override(capsys) -> None:
    code, _, err = run_main(capsys, ["show", "demo-signal", "train.epoch=3"])
    assert code == 2
    assert_one_error(err, "'train.epoch'", "did you mean 'epochs'")


# --- validate -------------------------------------------------------------------------------------


def test_validate_good_file(capsys, demo_file) -> None:
    code, out, err = run_main(capsys, ["validate", str(demo_file)])
    assert code == 0, err
    assert "valid pipeline 'demo-copy'" in out
    assert error_lines(err) == []


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set("trian", {"epochs": 2}), ["unknown key 'trian'", "did you mean 'train'"]),
        (_set("train.epoch", 2), ["unknown key 'train.epoch'", "did you mean 'epochs'"]),
        (_set("model.params.n_filter", 8), ["model.params", "'n_filter'", "did you mean 'n_filters'"]),
        (_set("model.params.n_filters", "abc"), ["model.params.n_filters", "int", "'abc'"]),
        (_set("dataset.params.n_trails", 10), ["'n_trails'", "did you mean 'n_trials'"]),
        (
            _set("dataset.name", "demo.oscilations"),
            ["'demo.oscilations'", "did you mean 'demo.oscillations'"],
        ),
        (_set("model.name", "demo.cnn"), ["'demo.cnn'", "'demo.cnn1d'"]),
        (_set("task.name", "demo.clasify"), ["'demo.clasify'", "did you mean 'demo.classify'"]),
        (_set("conv.backend", "torh"), ["conv.backend", "'torh'", "did you mean 'torch'"]),
        (_set("train.epochs", 0), ["train.epochs"]),
    ],
)
def test_validate_bad_file(capsys, demo_file, change: Any, expected: list[str]) -> None:
    edited(demo_file, change)
    code, out, err = run_main(capsys, ["validate", str(demo_file)])
    assert code == 2
    assert "valid pipeline" not in out
    assert_one_error(err, *expected)


def test_validate_malformed_yaml_names_the_line(capsys, demo_file) -> None:
    lines = demo_file.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "  broken: [1, 2")  # becomes line 4
    lines.insert(4, "oops: }")
    demo_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run_main(capsys, ["validate", str(demo_file)])
    assert code == 2
    line = assert_one_error(err, str(demo_file), "malformed YAML")
    assert line.startswith(f"error: {demo_file}:5:")


def test_validate_duplicate_key(capsys, demo_file) -> None:
    demo_file.write_text(demo_file.read_text(encoding="utf-8") + "task:\n  name: demo.classify\n")
    code, _, err = run_main(capsys, ["validate", str(demo_file)])
    assert code == 2
    assert_one_error(err, "duplicate key 'task'", str(demo_file))


def test_validate_missing_file(capsys, tmp_path) -> None:
    code, _, err = run_main(capsys, ["validate", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert_one_error(err, "not found", "nope.yaml")


def test_validate_in_a_process_hides_the_traceback_unless_debug(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {name: demo.classify}\ndataset: [\n", encoding="utf-8")
    proc = run_process(["validate", str(bad)])
    assert proc.returncode == 2
    assert_one_error(proc.stderr, f"{bad}:3:", "malformed YAML")
    assert proc.stdout == ""
    proc = run_process(["--debug", "validate", str(bad)])
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert len(error_lines(proc.stderr)) == 1


def test_validate_missing_file_in_a_process(tmp_path) -> None:
    proc = run_process(["validate", str(tmp_path / "gone.yaml")])
    assert proc.returncode == 2
    assert_one_error(proc.stderr, "not found")


def test_unexpected_exception_is_one_line_unless_debug(capsys, monkeypatch) -> None:
    def broken(args: Any) -> int:
        raise ValueError("a bug in a command")

    monkeypatch.setattr(cli, "cmd_list", broken)
    code, _, err = run_main(capsys, ["list"])
    assert code == 1
    assert_one_error(err, "ValueError: a bug in a command", "--debug")
    code, _, err = run_main(capsys, ["--debug", "list"])
    assert code == 1
    assert "Traceback" in err


# --- run (never to completion) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [("train.epochs=abc", "override 'train.epochs=abc'"), ("train.epoch=2", "did you mean 'epochs'")],
)
def test_run_with_bad_override_creates_nothing(capsys, tmp_path, monkeypatch, override, expected) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "x"
    code, _, err = run_main(capsys, ["run", "demo-signal", override, "--run-dir", str(target)])
    assert code == 2
    assert_one_error(err, expected)
    assert not target.exists()
    code, _, err = run_main(capsys, ["run", "demo-signal", override])
    assert code == 2
    assert list(tmp_path.iterdir()) == []  # no runs/ folder


def test_run_with_bad_model_param_creates_nothing(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, ["run", "demo-signal", "model.params.n_filter=4", "--run-dir", "x"])
    assert code == 2
    assert_one_error(err, "did you mean 'n_filters'")
    assert list(tmp_path.iterdir()) == []


def test_run_with_bad_override_in_a_process_creates_nothing(tmp_path) -> None:
    target = tmp_path / "x"
    proc = run_process(["run", "demo-signal", "train.epochs=abc", "--run-dir", str(target)], cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_error(proc.stderr, "override 'train.epochs=abc'")
    assert not target.exists()
    proc = run_process(["run", "demo-signal", "train.epochs=abc"], cwd=tmp_path)
    assert proc.returncode == 2
    assert not (tmp_path / "runs").exists()
    assert list(tmp_path.iterdir()) == []


def test_run_into_a_non_empty_directory_is_refused(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "previous"
    target.mkdir()
    (target / "result.txt").write_text("keep me\n")
    code, out, err = run_main(capsys, ["run", "demo-signal", "train.epochs=1", "--run-dir", str(target)])
    assert code == 2
    assert_one_error(err, str(target), "not empty")
    assert sorted(p.name for p in target.iterdir()) == ["result.txt"]
    assert (target / "result.txt").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous"]
    assert "run directory:" not in out


def test_run_with_a_missing_pipeline_file(capsys, tmp_path) -> None:
    code, _, err = run_main(capsys, ["run", str(tmp_path / "missing.yaml"), "--run-dir", str(tmp_path / "x")])
    assert code == 2
    assert_one_error(err, "not found")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args",
    [["run"], ["run", "demo-signal", "--run-dir", "a", "--resume", "b"]],
    ids=["no-target", "run-dir-and-resume"],
)
def test_run_usage_problems_exit_2(capsys, tmp_path, monkeypatch, args: list[str]) -> None:
    # errors.py: exit code 2 is "a problem with what was asked"; these are such problems.
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, args)
    assert_one_error(err, "pipeline run")
    assert code == 2
    assert list(tmp_path.iterdir()) == []


# --- a plugin that raises on import -------------------------------------------------------------


@pytest.fixture
def broken_plugin_env(tmp_path) -> dict[str, str]:
    site = tmp_path / "site"
    dist = site / "brokenplug-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sciconv]\nbroken = brokenplug_mod\n")
    (site / "brokenplug_mod.py").write_text('raise RuntimeError("brokenplug cannot start")\n')
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


def test_broken_plugin_is_reported_and_skipped(broken_plugin_env, tmp_path) -> None:
    proc = run_process(["plugins", "--json"], cwd=tmp_path, env=broken_plugin_env)
    assert proc.returncode == 0, proc.stderr
    plugins = {item["name"]: item for item in json.loads(proc.stdout)}
    broken = plugins["broken"]
    assert broken["version"] == "0.1"
    assert broken["hooks"] == []
    assert "RuntimeError: brokenplug cannot start" in broken["error"]
    assert all(names == [] for names in broken["contributes"].values())
    assert plugins["demo"]["error"] is None
    warning_lines = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1, proc.stderr
    assert "'broken'" in warning_lines[0]
    assert error_lines(proc.stderr) == []
    assert "Traceback" not in proc.stderr


def test_broken_plugin_does_not_break_list(broken_plugin_env, tmp_path) -> None:
    proc = run_process(["list"], cwd=tmp_path, env=broken_plugin_env)
    assert proc.returncode == 0
    assert "demo-signal" in proc.stdout
    assert "warning:" in proc.stderr
    proc = run_process(["plugins"], cwd=tmp_path, env=broken_plugin_env)
    assert proc.returncode == 0
    assert "FAILED TO LOAD" in proc.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--strict-plugins", "list"], {}), (["list"], {STRICT_ENV: "1"})],
    ids=["flag", "environment"],
)
def test_broken_plugin_is_an_error_in_strict_mode(broken_plugin_env, tmp_path, args, env) -> None:
    proc = run_process(args, cwd=tmp_path, env={**broken_plugin_env, **env})
    assert proc.returncode != 0
    assert_one_error(proc.stderr, "'broken'", "brokenplug cannot start")
    assert "demo-signal" not in proc.stdout


def test_global_flags_are_accepted_after_the_command(capsys) -> None:
    from sciconv.cli import main

    assert main(["show", "demo-signl", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "did you mean 'demo-signal'" in err
    assert main(["show", "demo-signl"]) == 2
    assert "Traceback" not in capsys.readouterr().err
