"""Component parameters: names, types and the constraints a signature declares with ``typing.Annotated``."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from annotated_types import Gt
from pydantic import Field
from torch import nn

import sciconv
from sciconv import DataSpec, hookimpl
from sciconv.cli import main
from sciconv.errors import ConfigError
from sciconv.params import check_params
from sciconv.testing import check_model

SPEC = DataSpec((4, 32), 3, classes=("a", "b", "c"), sfreq=100.0)


class ConstrainedNet(nn.Module):
    """A model whose parameters carry constraints (the demo pipeline's n_filters and n_blocks among them)."""

    def __init__(
        self,
        spec: DataSpec,
        n_filters: Annotated[int, Field(ge=1)] = 16,
        n_blocks: Annotated[int, Field(ge=1, le=8)] = 3,
        dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0,
        width: Annotated[int, Field(ge=1)] | None = None,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(spec.n_chans * spec.n_times, spec.n_outputs))

    def forward(self, x: Any) -> Any:
        return self.net(x)


class SizedDataset:
    """A dataset class whose constraint is an ``annotated_types`` object, not a pydantic Field."""

    def __init__(self, n_trials: Annotated[int, Gt(0)] = 10, label: Annotated[str, Field(min_length=2)] = "ab"):
        self.n_trials = n_trials


class ConstrainedPlugin:
    @hookimpl
    def register_models(self, register: Any) -> None:
        register("tp.constrained", ConstrainedNet)


@pytest.fixture
def constrained(register_plugin) -> None:
    register_plugin(ConstrainedPlugin(), name="constrained-plugin")


def _error(overrides: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        sciconv.load_pipeline("demo-signal", {"model.name": "tp.constrained", **overrides})
    return str(info.value)


def test_values_within_the_constraints_are_accepted_and_coerced(constrained) -> None:
    pipe = sciconv.load_pipeline(
        "demo-signal", {"model.name": "tp.constrained", "model.params.n_filters": "8", "model.params.dropout": 0.5}
    )
    built = pipe._build()
    assert built.model_params == {"n_filters": 8, "n_blocks": 3, "dropout": 0.5}
    assert isinstance(built.model_factory(SPEC, **built.model_params), ConstrainedNet)


def test_a_violated_constraint_is_one_line_naming_the_pipeline_key(constrained) -> None:
    message = _error({"model.params.n_filters": 0})
    assert message == "model.params.n_filters: expected an integer >= 1 for model 'tp.constrained', got 0"
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("n_blocks", 9, "model.params.n_blocks: expected an integer >= 1 and <= 8 for model 'tp.constrained', got 9"),
        ("n_blocks", 0, "model.params.n_blocks: expected an integer >= 1 and <= 8 for model 'tp.constrained', got 0"),
        (
            "dropout",
            1.0,
            "model.params.dropout: expected a number >= 0.0 and < 1.0 for model 'tp.constrained', got 1.0",
        ),
        (
            "width",
            0,
            "model.params.width: expected an integer >= 1 or null for model 'tp.constrained', got 0",
        ),
    ],
)
def test_every_constraint_is_named(constrained, key: str, value: Any, expected: str) -> None:
    assert _error({f"model.params.{key}": value}) == expected


def test_a_value_of_the_wrong_type_keeps_pydantics_reason(constrained) -> None:
    message = _error({"model.params.n_filters": "many"})
    assert message.startswith("model.params.n_filters: expected int >= 1 for model 'tp.constrained', got 'many' (")
    assert "valid integer" in message
    assert "\n" not in message


def test_the_cli_reports_the_constraint_in_one_line(constrained, capsys) -> None:
    code = main(["validate", "demo-signal", "model.name=tp.constrained", "model.params.n_filters=0"])
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert err == "error: model.params.n_filters: expected an integer >= 1 for model 'tp.constrained', got 0"


def test_annotated_types_and_length_constraints() -> None:
    assert check_params("dataset", "tp.sized", SizedDataset, {"n_trials": "5"}) == {"n_trials": 5}
    with pytest.raises(ConfigError) as info:
        check_params("dataset", "tp.sized", SizedDataset, {"n_trials": 0})
    assert str(info.value) == "dataset.params.n_trials: expected an integer > 0 for dataset 'tp.sized', got 0"
    with pytest.raises(ConfigError) as info:
        check_params("dataset", "tp.sized", SizedDataset, {"label": "a"})
    assert str(info.value) == "dataset.params.label: expected a string of length >= 2 for dataset 'tp.sized', got 'a'"


def test_plain_annotations_keep_their_messages() -> None:
    def factory(spec: DataSpec, hidden: int = 8, name: str = "x") -> None:
        return None

    with pytest.raises(ConfigError) as info:
        check_params("model", "tp.plain", factory, {"hidden": "lots"})
    message = str(info.value)
    assert message.startswith("model.params.hidden: expected int for model 'tp.plain', got 'lots' (input should be")
    with pytest.raises(ConfigError, match=r"unknown parameter 'hiden'.*did you mean 'hidden'"):
        check_params("model", "tp.plain", factory, {"hiden": 3})


def test_the_conformance_kit_checks_the_constraints() -> None:
    assert isinstance(check_model(ConstrainedNet, SPEC, {"n_filters": 2}), ConstrainedNet)
    with pytest.raises(ConfigError, match=r"^model.params.n_filters: expected an integer >= 1 for model"):
        check_model(ConstrainedNet, SPEC, {"n_filters": 0})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("n_filters", "model.params.n_filters: expected an integer >= 1 for model 'tp.constrained', got True"),
        ("dropout", "model.params.dropout: expected a number >= 0.0 and < 1.0 for model 'tp.constrained', got False"),
        ("width", "model.params.width: expected an integer >= 1 or null for model 'tp.constrained', got True"),
    ],
)
def test_a_boolean_is_not_a_number(constrained: None, key: str, expected: str) -> None:
    # pydantic's lax mode reads True as 1; a pipeline that says `n_filters: true` made a mistake
    value = key != "dropout"
    assert _error({f"model.params.{key}": value}) == expected


def test_a_boolean_stays_a_boolean() -> None:
    def factory(spec: DataSpec, flag: bool = False, level: int | bool = 1) -> None: ...

    assert check_params("model", "x.y", factory, {"flag": True, "level": True}) == {"flag": True, "level": True}
