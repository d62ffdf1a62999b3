"""The pipeline schema: defaults, unknown and missing keys, and dotted command-line overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sciconv.config import (
    PipelineConfig,
    apply_overrides,
    load_config_file,
    parse_override,
    validate_config,
)
from sciconv.errors import ConfigError, NotFoundError

MINIMAL = "task: {name: demo.classify}\ndataset: {name: demo.oscillations}\nmodel: {name: demo.cnn1d}\n"


def write(tmp_path: Path, text: str, name: str = "my-pipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal() -> dict[str, Any]:
    return {
        "task": {"name": "demo.classify"},
        "dataset": {"name": "demo.oscillations"},
        "model": {"name": "m.x"},
    }


# --- schema ---------------------------------------------------------------------------------------


def test_schema_defaults(tmp_path) -> None:
    config = load_config_file(write(tmp_path, MINIMAL))
    assert config.description == ""
    assert config.task.name == "demo.classify"
    assert config.task.params == {}
    assert config.dataset.params == {}
    assert config.model.params == {}
    train = config.train
    assert (train.epochs, train.batch_size, train.lr, train.weight_decay) == (10, 64, 1e-3, 0.0)
    assert (train.optimizer, train.momentum, train.grad_clip, train.seed) == ("adam", 0.9, None, 0)
    assert (train.device, train.checkpoint_every, train.keep_checkpoints, train.progress) == (
        "auto",
        1,
        2,
        True,
    )
    stopping = train.early_stopping
    assert (stopping.patience, stopping.monitor, stopping.mode) == (None, "val_loss", "min")
    assert (stopping.min_delta, stopping.restore_best) == (0.0, True)
    assert config.conv.backend == "torch"
    assert (config.output.root, config.output.plots) == ("runs", True)


def test_defaults_are_not_shared_between_configs() -> None:
    a = validate_config(minimal(), "a")
    b = validate_config(minimal(), "b")
    a.model.params["x"] = 1
    a.train.epochs = 3
    assert b.model.params == {}
    assert b.train.epochs == 10


def test_name_defaults_to_the_file_stem(tmp_path) -> None:
    assert load_config_file(write(tmp_path, MINIMAL, "ecg-beats.yaml")).name == "ecg-beats"
    assert load_config_file(write(tmp_path, "name: other\n" + MINIMAL, "x.yml")).name == "other"


def test_to_dict_round_trips(tmp_path) -> None:
    text = MINIMAL.replace("model: {name: demo.cnn1d}\n", "")
    text += "train: {epochs: 3, lr: 0.01, early_stopping: {patience: 2}}\n"
    text += "model: {name: m.x, params: {k: [1, 2]}}\n"
    config = load_config_file(write(tmp_path, text))
    data = config.to_dict()
    assert list(data) == [
        "name",
        "description",
        "task",
        "dataset",
        "model",
        "train",
        "conv",
        "parallel",
        "output",
    ]
    assert data["model"]["params"] == {"k": [1, 2]}
    assert validate_config(data, "again") == config


def test_validate_on_assignment() -> None:
    """Assignments in code are refused with the one-line message of a bad override, naming the dotted key."""
    config = validate_config(minimal(), "x")
    with pytest.raises(ConfigError) as info:
        config.train.epochs = 0
    assert str(info.value) == (
        "pipe.config.train.epochs = 0: train.epochs: input should be greater than or equal to 1 (got 0)"
    )
    with pytest.raises(ConfigError, match=r"unknown key 'train.optimiser'; did you mean 'optimizer'\?"):
        config.train.optimiser = "sgd"  # type: ignore[attr-defined]
    with pytest.raises(
        ConfigError, match=r"^pipe.config.train.early_stopping.mode = 'up': train.early_stopping.mode: "
    ):
        config.train.early_stopping.mode = "up"  # type: ignore[assignment]
    config.train.early_stopping = {"patience": 3}  # type: ignore[assignment]
    with pytest.raises(ConfigError, match=r"train.early_stopping.patience: input should be greater"):
        config.train.early_stopping.patience = 0  # a replaced section is checked with its full path too
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trian: {epochs: 3}\n", ["unknown key 'trian'", "did you mean 'train'"]),
        ("train: {epoch: 3}\n", ["unknown key 'train.epoch'", "did you mean 'epochs'"]),
        ("train: {early_stopping: {patince: 3}}\n", ["'train.early_stopping.patince'", "'patience'"]),
        ("conv: {backnd: fft}\n", ["unknown key 'conv.backnd'", "'backend'"]),
        ("task: {name: demo.classify, parms: {}}\n", ["unknown key 'task.parms'", "'params'"]),
    ],
)
def test_unknown_keys_get_did_you_mean(tmp_path, text: str, expected: list[str]) -> None:
    base = MINIMAL if not text.startswith("task") else MINIMAL.replace("task: {name: demo.classify}\n", "")
    path = write(tmp_path, base + text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message


def test_unknown_key_with_nothing_close_gets_no_suggestion(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL + "zzzzqqq: 1\n"))
    assert "unknown key 'zzzzqqq'" in str(info.value)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("missing", ["task", "dataset", "model"])
def test_missing_required_component(tmp_path, missing: str) -> None:
    text = "".join(line + "\n" for line in MINIMAL.splitlines() if not line.startswith(missing))
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(info.value) == f"{path}: missing required key {missing!r}"


def test_missing_component_name(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"missing required key 'model\.name'"):
        load_config_file(write(tmp_path, MINIMAL.replace("{name: demo.cnn1d}", "{params: {}}")))


def test_several_problems_are_counted(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, "description: only\n"))
    assert "missing required key 'task'" in str(info.value)
    assert "(and 2 more problems)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train: {epochs: 0}\n", "train.epochs"),
        ("train: {optimizer: rmsprop}\n", "train.optimizer"),
        ("train: {device: gpu}\n", "train.device"),
        ("output: {plots: maybe}\n", "output.plots"),
        ("train: {early_stopping: {mode: best}}\n", "train.early_stopping.mode"),
        ("train: 5\n", "train"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text: str, expected: str) -> None:
    path = write(tmp_path, MINIMAL + text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_validator_message_is_not_mangled(tmp_path) -> None:
    # The validator says what is accepted; its text must reach the user unchanged (not lower-cased).
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL + "train: {device: gpu}\n"))
    assert "'cuda:N'" in str(info.value), str(info.value)


def test_empty_file_is_an_error(tmp_path) -> None:
    for text in ("", "# nothing here\n"):
        path = write(tmp_path, text)
        with pytest.raises(ConfigError, match="empty") as info:
            load_config_file(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_non_mapping_file_is_an_error(tmp_path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
    assert "mapping" in str(info.value)
    assert f"got {kind}" in str(info.value)


def test_validate_config_refuses_non_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^src: a pipeline must be a mapping.*got list"):
        validate_config([1, 2], "src")


def test_missing_file_is_not_found(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        load_config_file(tmp_path / "nope.yaml")


# --- overrides ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.epochs=3", 3),
        ("train.epochs=-2", -2),
        ("train.lr=0.5", 0.5),
        ("train.lr=3.0e-4", 3e-4),
        ("train.lr=3e-4", 3e-4),  # the common way to write a learning rate
        ("train.lr=1e3", 1000.0),
        ("train.lr=1.5E-3", 1.5e-3),
        ("train.device=cuda:1", "cuda:1"),
        ("train.optimizer=adamw", "adamw"),
        ("train.progress=true", True),
        ("train.progress=false", False),
        ("train.grad_clip=null", None),
        ("train.grad_clip=~", None),
        ("dataset.params.freqs=[1,2]", [1, 2]),
        ("dataset.params.freqs=[6.0, 9.5]", [6.0, 9.5]),
        ("dataset.params.opts={a: 1, b: [x]}", {"a": 1, "b": ["x"]}),
        ("dataset.params.root=/data/my dir", "/data/my dir"),
        ("dataset.params.label='3'", "3"),
        ("description=a=b", "a=b"),
    ],
)
def test_parse_override_values_are_yaml(text: str, expected: Any) -> None:
    key, value = parse_override(text)
    assert key == text.partition("=")[0]
    assert value == expected
    assert type(value) is type(expected)


def test_parse_override_empty_value_is_none() -> None:
    assert parse_override("train.grad_clip=") == ("train.grad_clip", None)
    assert parse_override(" train.seed = 4") == ("train.seed", 4)


@pytest.mark.parametrize("text", ["train.epochs", "=3", "train..epochs=3", ".epochs=3", "train.=1"])
def test_parse_override_malformed(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert repr(text) in str(info.value)


def test_parse_override_malformed_yaml_value_names_the_override() -> None:
    with pytest.raises(ConfigError) as info:
        parse_override("dataset.params.freqs=[1,2")
    assert "override 'dataset.params.freqs=[1,2'" in str(info.value)
    assert "malformed YAML" in str(info.value)


def test_parse_override_refuses_python_tags() -> None:
    with pytest.raises(ConfigError):
        parse_override("description=!!python/object/apply:os.system ['true']")


def test_float_override_in_scientific_notation_reaches_the_config_as_a_float(tmp_path) -> None:
    config = load_config_file(write(tmp_path, MINIMAL), ["train.lr=3e-4", "dataset.params.snr_db=-1e1"])
    assert config.train.lr == pytest.approx(3e-4)
    assert config.dataset.params["snr_db"] == -10.0
    assert isinstance(config.dataset.params["snr_db"], float)


def test_apply_overrides_copies_and_creates_intermediate_mappings() -> None:
    data = minimal()
    result = apply_overrides(data, ["train.early_stopping.patience=3", "model.params.depth=4"])
    assert result["train"] == {"early_stopping": {"patience": 3}}
    assert result["model"] == {"name": "m.x", "params": {"depth": 4}}
    assert data == minimal()  # the input is not modified


def test_apply_overrides_mapping_values_are_used_as_given() -> None:
    result = apply_overrides(minimal(), {"train.epochs": "3", "model.params.size": (1, 2)})
    assert result["train"]["epochs"] == "3"
    assert result["model"]["params"]["size"] == (1, 2)


def test_later_override_wins() -> None:
    assert apply_overrides(minimal(), ["train.epochs=2", "train.epochs=5"])["train"]["epochs"] == 5


def test_overrides_replace_file_values(tmp_path) -> None:
    path = write(tmp_path, MINIMAL + "train: {epochs: 7, lr: 0.1}\n")
    config = load_config_file(path, ["train.epochs=2", "name=renamed", "conv.backend=fft"])
    assert (config.train.epochs, config.train.lr, config.name, config.conv.backend) == (
        2,
        0.1,
        "renamed",
        "fft",
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.epoch=3", ["override 'train.epoch'", "unknown key 'train.epoch'", "did you mean 'epochs'"]),
        ("trian.epochs=3", ["unknown key 'trian'", "did you mean 'train'"]),
        ("train.early_stopping.patiance=2", ["'train.early_stopping.patiance'", "'patience'"]),
        ("modle.params.x=1", ["unknown key 'modle'", "'model'"]),
        ("model.parms.x=1", ["unknown key 'model.parms'", "'params'"]),
    ],
)
def test_override_of_unknown_key_gets_did_you_mean(tmp_path, override: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL), [override])
    for part in expected:
        assert part in str(info.value)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("train.epochs=abc", "train.epochs"),
        ("train.epochs=0", "train.epochs"),
        ("train.lr=-1", "train.lr"),
        ("train.early_stopping.patience=x", "train.early_stopping.patience"),
        ("train.device=tpu", "train.device"),
        ("output.root=[1]", "output.root"),
        ("conv=torch", "conv"),
    ],
)
def test_wrong_typed_override_names_the_override(tmp_path, override: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL), [override])
    message = str(info.value)
    assert message.startswith(f"override {override!r}: "), message
    assert where in message


def test_wrong_typed_override_as_mapping_names_the_override(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL), {"train.epochs": "abc"})
    assert str(info.value).startswith("override 'train.epochs=abc': train.epochs")


def test_wrong_typed_override_given_as_a_generator_names_the_override(tmp_path) -> None:
    # ``overrides`` is typed Iterable[str]: a one-shot iterable must work like a list.
    with pytest.raises(ConfigError) as info:
        load_config_file(write(tmp_path, MINIMAL), (o for o in ["train.epochs=abc"]))
    assert str(info.value).startswith("override 'train.epochs=abc'"), str(info.value)


def test_error_in_the_file_still_names_the_file_when_overrides_are_given(tmp_path) -> None:
    path = write(tmp_path, MINIMAL + "train: {batch_size: zero}\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path, ["train.epochs=2"])
    assert str(info.value).startswith(f"{path}: train.batch_size")


def test_override_below_a_scalar_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"override 'train.epochs.x'.*'train.epochs' is not a mapping"):
        load_config_file(write(tmp_path, MINIMAL + "train: {epochs: 3}\n"), ["train.epochs.x=1"])


@pytest.mark.parametrize(
    ("override", "kind", "key", "value"),
    [
        ("model.params.anything_at_all=1", "model", "anything_at_all", 1),
        ("dataset.params.root=/data/x", "dataset", "root", "/data/x"),
        ("task.params.nested.deep.key=[1,2]", "task", "nested", {"deep": {"key": [1, 2]}}),
        ("model.params.Weird-Name=null", "model", "Weird-Name", None),
    ],
)
def test_overrides_under_params_are_free(tmp_path, override: str, kind: str, key: str, value: Any) -> None:
    config = load_config_file(write(tmp_path, MINIMAL), [override])
    assert getattr(config, kind).params[key] == value


def test_override_params_keeps_the_other_params(tmp_path) -> None:
    path = write(tmp_path, MINIMAL.replace("{name: demo.cnn1d}", "{name: demo.cnn1d, params: {a: 1, b: 2}}"))
    config = load_config_file(path, ["model.params.b=5"])
    assert config.model.params == {"a": 1, "b": 5}


def test_validated_config_is_a_pipeline_config(tmp_path) -> None:
    assert isinstance(load_config_file(write(tmp_path, MINIMAL)), PipelineConfig)
