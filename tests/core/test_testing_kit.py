"""sciconv.testing: every conformance check catches the contract violation it names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DataSpec, hookimpl
from sciconv.errors import ConfigError, PluginError
from sciconv.registry import PluginInfo, Registry
from sciconv.testing import (
    ConformanceError,
    check_dataset,
    check_model,
    check_pipeline_file,
    check_plugin,
    check_task,
    registered_plugin,
)

SPEC = DataSpec((3, 32), 4, classes=("a", "b", "c", "d"), sfreq=100.0)


class Good(nn.Module):
    def __init__(self, spec: DataSpec, hidden: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(spec.n_chans * spec.n_times, hidden), nn.ReLU(), nn.Linear(hidden, spec.n_outputs)
        )

    def forward(self, x):
        return self.net(x)


class Unused(Good):
    def __init__(self, spec: DataSpec) -> None:
        super().__init__(spec)
        self.extra = nn.Linear(2, 2)


class WrongShape(Good):
    def forward(self, x):
        return super().forward(x)[:, :2]


class HiddenState(Good):
    """Keeps a random buffer outside the state dict: outputs change after a weights round trip."""

    def __init__(self, spec: DataSpec) -> None:
        super().__init__(spec)
        self.shift = torch.randn(spec.n_outputs)

    def forward(self, x):
        return super().forward(x) + self.shift


def test_check_model_accepts_a_good_model() -> None:
    assert isinstance(check_model(Good, SPEC, {"hidden": 4}), Good)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (Unused, "without gradient.*extra"),
        (WrongShape, r"output shape \(2, 2\), expected \(2, 4\)"),
        (HiddenState, "differs after a safetensors round trip"),
        (lambda spec: "x", "expected torch.nn.Module"),
    ],
)
def test_check_model_catches(factory, message) -> None:
    with pytest.raises(ConformanceError, match=message):
        check_model(factory, SPEC)


def test_check_model_checks_params() -> None:
    with pytest.raises(Exception, match=r"unknown parameter 'hiden'.*did you mean 'hidden'"):
        check_model(Good, SPEC, {"hiden": 3})


def _dataset(x: torch.Tensor, y: torch.Tensor, spec: DataSpec = SPEC):
    class Data:
        def load(self) -> DataBundle:
            return DataBundle(TensorDataset(x, y), None, TensorDataset(x, y), spec)

    return Data


def test_check_dataset_accepts_good_data() -> None:
    bundle = check_dataset(_dataset(torch.randn(10, 3, 32), torch.arange(10) % 4))
    assert bundle.spec == SPEC


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (torch.randn(10, 3, 31), torch.arange(10) % 4, r"shape \(3, 31\), spec.input_shape is \(3, 32\)"),
        (torch.full((10, 3, 32), float("nan")), torch.arange(10) % 4, "NaN"),
        (torch.randn(10, 3, 32), torch.arange(10), "label 9 outside"),
        (torch.randn(10, 3, 32), torch.rand(10), "not an integer class index"),
        (torch.zeros(10, 3, 32, dtype=torch.int64), torch.arange(10) % 4, "expected floating point"),
        (torch.randn(0, 3, 32), torch.zeros(0, dtype=torch.int64), "train split is empty"),
    ],
)
def test_check_dataset_catches(x, y, message) -> None:
    with pytest.raises(ConformanceError, match=message):
        check_dataset(_dataset(x, y))


def test_check_task_and_pipeline() -> None:
    with pytest.raises(ConformanceError, match="no run"):
        check_task(lambda: object())
    assert check_pipeline_file("demo-signal").config.name == "demo-signal"
    with pytest.raises(ConformanceError, match="did you mean 'demo-signal'"):
        check_pipeline_file("demo-signl")


class _Partial:
    """A plugin with a model no pipeline uses, and a conv backend that is wrong."""

    @hookimpl
    def register_models(self, register):
        register("partial.good", Good)

    @hookimpl
    def register_conv_backends(self, register):
        class Off:
            conv1d = staticmethod(lambda *a: torch.nn.functional.conv1d(*a) + 1)
            conv2d = staticmethod(torch.nn.functional.conv2d)
            conv3d = staticmethod(torch.nn.functional.conv3d)

        register("off-by-one", Off())


def test_check_plugin_requires_every_component_and_correct_backends() -> None:
    with registered_plugin(_Partial(), "partial"), pytest.raises(ConformanceError, match="conv1d differs from torch"):
        check_plugin("partial")
    with pytest.raises(ConformanceError, match="not installed"):
        check_plugin("partial")


def test_check_plugin_names_unexercised_components() -> None:
    class OnlyModel:
        @hookimpl
        def register_models(self, register):
            register("only.good", Good)

    with registered_plugin(OnlyModel(), "only"):
        with pytest.raises(ConformanceError, match=r"models \['only.good'\] are used by none"):
            check_plugin("only")
        report = check_plugin("only", extra_models={"only.good": (SPEC, {"hidden": 2})})
        assert report.models == ["only.good"]


def test_check_plugin_fails_a_plugin_whose_names_clash() -> None:
    class Clashing:
        @hookimpl
        def register_models(self, register):
            register("demo.cnn1d", Good)

    clash = r"model 'demo.cnn1d' is registered by .*'clashing'"
    with registered_plugin(Clashing(), "clashing"), pytest.raises(ConformanceError, match=clash):
        check_plugin("clashing", run_pipelines=False)


def test_register_plugin_fixture_registers_until_the_test_ends(pytester: pytest.Pytester) -> None:
    # Run in a pytest of its own, so that this test does not depend on the order the suite runs in.
    pytester.makeconftest('pytest_plugins = ["sciconv.testing.fixtures"]')
    pytester.makepyfile(
        """
        from sciconv import hookimpl
        from sciconv.registry import get_registry

        class P:
            @hookimpl
            def register_models(self, register):
                register("fixture.model", "torch.nn:Linear")

        def test_registered(register_plugin, request):
            register_plugin(P(), name="fixture-plugin")
            assert "fixture.model" in get_registry().names("models")

        def test_removed_afterwards():
            assert "fixture.model" not in get_registry().names("models")
            assert "fixture-plugin" not in get_registry().plugins
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=2)


class _Task:
    """Counts samples; ``predict`` counts the test samples again from the saved state (``off`` by ``skew``)."""

    def __init__(self, flaky: bool = False, skew: int = 0) -> None:
        self.flaky = flaky
        self.skew = skew

    def run(self, ctx):
        from sciconv import TaskResult

        data = ctx.load_data()
        value = float(len(data.train)) + (int.from_bytes(os.urandom(4), "little") if self.flaky else 0)
        ctx.save_state("counts", {"n_train": len(data.train)})
        return TaskResult(metrics={"n_train": value, "n_test": float(len(data.test)), "nan": float("nan")})

    def predict(self, ctx, bundle):
        import pandas as pd

        from sciconv import PredictionResult

        samples = ctx.samples(bundle)
        assert ctx.load_state("counts")["n_train"] > 0
        table = pd.DataFrame({"sample": range(len(samples))})
        return PredictionResult(tables={"predictions": table}, metrics={"n_test": float(len(samples) + self.skew)})


class _TaskWithoutPredict(_Task):
    predict = None  # type: ignore[assignment]


def _pipeline_plugin(tmp_path: Path, tiny: dict | None, flaky: bool = False, skew: int = 0, task: type = _Task):
    yaml = tmp_path / "tiny-demo.yaml"
    yaml.write_text(
        "description: a tiny pipeline\n"
        f"task: {{name: runs.task, params: {{flaky: {'true' if flaky else 'false'}, skew: {skew}}}}}\n"
        "dataset: {name: demo.oscillations, params: {n_trials: 400}}\n"
        "model: {name: demo.cnn1d}\n"
    )

    class Runs:
        @hookimpl
        def register_tasks(self, register):
            register("runs.task", task)

        @hookimpl
        def register_pipelines(self, register):
            register("tiny-demo", yaml, tiny=tiny)

    return Runs()


def test_check_plugin_runs_every_pipeline_twice_on_its_tiny_overrides(tmp_path: Path) -> None:
    with registered_plugin(_pipeline_plugin(tmp_path, {"dataset.params.n_trials": 50}), "runs"):
        report = check_plugin("runs")
        assert report.tasks == ["runs.task"] and report.pipelines == ["tiny-demo"]
        small = report.runs["tiny-demo"]["n_train"]
        larger = check_plugin("runs", {"tiny-demo": {"dataset.params.n_trials": 100}}).runs["tiny-demo"]["n_train"]
        assert 0 < small < 50 and small < larger < 100  # the tiny overrides, then the test's own, were applied


def test_check_plugin_wants_tiny_overrides_and_reproducible_runs(tmp_path: Path) -> None:
    with registered_plugin(_pipeline_plugin(tmp_path, None), "runs"):
        with pytest.raises(ConformanceError, match="declares no tiny overrides"):
            check_plugin("runs")
        assert check_plugin("runs", run_pipelines=False).runs == {}
    with (
        registered_plugin(_pipeline_plugin(tmp_path, {"dataset.params.n_trials": 50}, flaky=True), "runs"),
        pytest.raises(ConformanceError, match="same seed gave different metrics in run 2: n_train"),
    ):
        check_plugin("runs")


def test_check_plugin_wants_predict_to_reproduce_the_run(tmp_path: Path) -> None:
    tiny = {"dataset.params.n_trials": 50}
    with (
        registered_plugin(_pipeline_plugin(tmp_path, tiny, skew=1), "runs"),
        pytest.raises(ConformanceError, match=r"does not reproduce its metrics: n_test: run 8\.0, predict 9\.0"),
    ):
        check_plugin("runs")
    with (
        registered_plugin(_pipeline_plugin(tmp_path, tiny, task=_TaskWithoutPredict), "runs"),
        pytest.raises(ConformanceError, match="does not implement predict"),
    ):
        check_plugin("runs")


def test_tiny_overrides_are_for_pipelines_only() -> None:
    class Bad:
        @hookimpl
        def register_models(self, register):
            register("bad.model", Good, tiny={"train.epochs": 1})

    with pytest.raises(PluginError, match="only pipelines take tiny overrides"):
        Registry(strict=True).add_plugin(Bad(), PluginInfo(name="bad"))


def test_check_plugin_wants_names_in_the_plugins_namespace() -> None:
    class Elsewhere:
        @hookimpl
        def register_models(self, register):
            register("other.good", Good)

    with registered_plugin(Elsewhere(), "mine"), pytest.raises(ConformanceError, match=r"'other.good' is not named"):
        check_plugin("mine", extra_models={"other.good": (SPEC, {})})


class _ArgTask:
    def __init__(self, n: int = 1) -> None:
        self.n = n

    def run(self, ctx, extra):
        raise NotImplementedError

    def validate(self) -> None:
        if self.n > 5:
            raise ConfigError("task.params.n: at most 5")


class _NoArgTask(_ArgTask):
    def run(self):  # type: ignore[override]
        raise NotImplementedError


def test_check_task_checks_the_run_signature_and_validate() -> None:
    with pytest.raises(ConformanceError, match="must take exactly one argument"):
        check_task(_ArgTask)
    with pytest.raises(ConformanceError, match="must take exactly one argument"):
        check_task(_NoArgTask)

    class Fine(_ArgTask):
        def run(self, ctx):
            raise NotImplementedError

    assert isinstance(check_task(Fine, {"n": 2}), Fine)
    with pytest.raises(ConformanceError, match=r"validate\(\) rejects .*at most 5"):
        check_task(Fine, {"n": 9})


def test_timing_metrics_are_not_compared_between_runs() -> None:
    from sciconv.testing.conformance import _same_value

    for key in ("train_seconds", "wall_time_s", "m.infer_ms", "sparse.ms_per_sample", "dense.train_ms_per_sample"):
        assert _same_value(key, 1.0, 2.0), key
    for key in ("snn.acc", "snn.energy_mj", "ms"):
        assert not _same_value(key, 1.0, 2.0), key
