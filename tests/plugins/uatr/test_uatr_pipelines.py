"""The uatr pipelines end to end on tiny settings: registration, conformance (each pipeline run twice with the same
metrics, predict reproducing the run), the metric keys, the report and its figures, folds that never share a
recording or a ship, the real DeepShip sample, a ShipsEar folder with a split file, predict on new unlabelled
recordings, your own network in the pipeline's model slot (a plain classifier, or a mixture of experts with routes),
and bad input at the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import sciconv
from sciconv import cli
from sciconv.errors import ConfigError
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv.spec import DataSpec
from sciconv.testing import check_plugin
from sciconv_uatr.models.cmoe import MixtureOfExpertsHead
from sciconv_uatr.plugin import TINY_UATR_CMOE, TINY_UATR_DEEPSHIP, TINY_UATR_SHIPSEAR
from sciconv_uatr.recognition_task import METHODS
from sciconv_uatr.ship_noise_simulator import simulate_deepship

DEEPSHIP_SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "deepship-sample"
PER_METHOD = ("acc", "macro_f1", "recording_acc")


def _quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def shipsear_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ShipsEar-layout folder of simulated passages (ids of Passengers and Motorboat, `<id>__<date>_<name>.wav`)
    and a split file naming them."""
    tmp = tmp_path_factory.mktemp("shipsear")
    simulate_deepship(
        tmp / "sim",
        classes=("Passengership", "Tug"),
        ships_per_class=4,
        recordings_per_ship=1,
        duration_s=5.0,
        sample_rate=16000,
        seed=3,
    )
    root = tmp / "shipsear"
    root.mkdir()
    lines = []
    for source, ids in (("Passengership", (6, 7, 8, 9)), ("Tug", (21, 26, 27, 33))):
        for k, rid in enumerate(ids):
            name = f"{rid}__19_07_13_sim{k}.wav"
            shutil.copy(tmp / "sim" / source / f"{k + 1}.wav", root / name)
            lines.append(f"{'train' if k < 2 else 'test'} {name}")
    split = tmp / "split.txt"
    split.write_text("# simulated ShipsEar split\n" + "\n".join(lines) + "\n")
    return root, split


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("uatr") / "run"
    sciconv.run("uatr-cmoe", dict(TINY_UATR_CMOE), run_dir=run_dir)
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_pipelines_and_components_are_registered() -> None:
    registry = get_registry()
    for name, tiny in (
        ("uatr-cmoe", TINY_UATR_CMOE),
        ("uatr-deepship", TINY_UATR_DEEPSHIP),
        ("uatr-shipsear", TINY_UATR_SHIPSEAR),
    ):
        assert registry.entry("pipelines", name).plugin == "uatr"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    config = sciconv.load_pipeline("uatr-cmoe").config
    assert config.dataset.name == "uatr.simulated" and config.model.name == "uatr.cmoe"
    assert config.model.params["experts"] == 8 and config.model.params["router"] == "sigmoid"
    assert config.task.params["methods"] == list(METHODS)
    shipsear = sciconv.load_pipeline("uatr-shipsear").config
    assert shipsear.dataset.params["split"] == "xie2023-9class" and shipsear.dataset.params["segment_s"] == 30.0
    assert shipsear.task.params["protocol"] == "split"


def test_conformance_of_every_component_and_pipeline(shipsear_root: tuple[Path, Path]) -> None:
    root, split = shipsear_root
    small = {"dataset.params.segment_s": 2.0, "dataset.params.hop_s": 1.0, "dataset.params.n_bands": 16}
    report = check_plugin(
        "uatr",
        pipeline_overrides={
            "uatr-cmoe": {
                **small,
                "dataset.params.ships_per_class": 2,
                "dataset.params.recordings_per_ship": 1,
                "dataset.params.duration_s": 5.0,
                "task.params.n_folds": 2,
            },
            "uatr-deepship": {**small, "dataset.params.root": str(DEEPSHIP_SAMPLE), "task.params.n_folds": 2},
            "uatr-shipsear": {
                **small,
                "dataset.params.root": str(root),
                "dataset.params.split": str(split),
                "dataset.params.classes": ["Passengers", "Motorboat"],
            },
        },
        extra_models={"uatr.resnet18": (DataSpec((1, 16, 63), 4, classes=tuple("abcd")), {})},
    )
    assert sorted(report.pipelines) == ["uatr-cmoe", "uatr-deepship", "uatr-shipsear"]
    assert sorted(report.datasets) == ["uatr.deepship", "uatr.shipsear", "uatr.simulated"]
    assert sorted(report.models) == ["uatr.cmoe", "uatr.resnet18"] and report.tasks == ["uatr.recognition"]
    for name in report.pipelines:
        metrics = report.runs[name]
        for method in METHODS:
            for key in PER_METHOD:
                assert f"{method}.{key}" in metrics and f"{method}.{key}_sd" in metrics, (name, method, key)
    assert report.runs["uatr-shipsear"]["cmoe.n_folds"] == 1  # one seed of the fixed split
    assert report.runs["uatr-deepship"]["cmoe.n_folds"] == 2


def test_the_run_reports_every_method_with_its_figures(simulated_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, metrics = simulated_run
    for method in METHODS:
        for key in PER_METHOD:
            assert 0.0 <= metrics[f"{method}.{key}"] <= 1.0
            assert metrics[f"{method}.{key}_sd"] >= 0.0
        for name in ("Cargo", "Passengership", "Tanker", "Tug"):
            assert f"{method}.recall.{name}" in metrics
    for method in ("cmoe", "rcmoe"):  # how much the routes say about the class and the simulated subtype
        assert 0.0 <= metrics[f"{method}.routing_ami_class"] <= 1.0
        assert 0.0 <= metrics[f"{method}.routing_ami_subtype"] <= 1.0
    assert "resnet.routing_ami_class" not in metrics
    report = (run_dir / "report.md").read_text()
    for heading in ("## Protocol", "Per-class recall", "Routing of classes to experts", "Routing of ship subtypes"):
        assert heading in report
    assert "| Tug / " in report  # rows of class / subtype
    assert "grouped by ship" in report
    for plot in ("confusion.png", "routing.png"):
        assert (run_dir / "plots" / plot).stat().st_size > 1000, plot


def test_folds_never_share_a_recording_or_a_ship(simulated_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, _ = simulated_run
    state = json.loads((run_dir / "trained" / "recognition.json").read_text())
    assert state["grouping"] == "ship"
    records = {f"{r['class']}/{r['id']}": r["ship"] for r in _simulation_records(run_dir)}
    tested: list[str] = []
    for fold in state["folds"]:
        assert not set(fold["train"]) & set(fold["test"])
        assert not {records[r] for r in fold["train"]} & {records[r] for r in fold["test"]}
        tested += fold["test"]
    assert sorted(tested) == sorted(records)  # k-fold: every recording is tested exactly once


def _simulation_records(run_dir: Path) -> list[dict[str, Any]]:
    config = sciconv.load_pipeline("uatr-cmoe", dict(TINY_UATR_CMOE)).config
    from sciconv_uatr.datasets import SimulatedDeepShipDataset

    recordings, _ = SimulatedDeepShipDataset(**config.dataset.params).recordings()
    folder = recordings[0].path.parents[1]
    return json.loads((folder / "recordings.json").read_text())


def test_predict_labels_new_unlabelled_recordings(simulated_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    run_dir, _ = simulated_run
    new = tmp_path / "new"
    simulate_deepship(
        tmp_path / "sim",
        classes=("Tanker",),
        ships_per_class=1,
        recordings_per_ship=2,
        duration_s=5.0,
        sample_rate=16000,
        seed=11,
    )
    new.mkdir()
    for k, wav in enumerate(sorted((tmp_path / "sim" / "Tanker").glob("*.wav"))):
        shutil.copy(wav, new / f"unknown_{k}.wav")
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict(
        {"dataset.params.root": str(new), "dataset.params.unlabelled": True},
        out=out,
        log=_quiet,
    )
    segments, recordings = prediction.tables["segments"], prediction.tables["recordings"]
    assert sorted(recordings["recording_id"]) == ["unknown_0.wav", "unknown_1.wav"]
    assert "label" not in segments.columns and prediction.metrics == {}
    for method in METHODS:
        assert set(segments[method]) <= {"Cargo", "Passengership", "Tanker", "Tug"}
        assert set(recordings[method]) <= {"Cargo", "Passengership", "Tanker", "Tug"}
    assert segments["cmoe.expert"].between(0, 1).all()  # the tiny model has 2 experts
    assert (out / "segments.csv").is_file() and (out / "recordings.csv").is_file()


def test_the_real_deepship_sample_runs_cross_validated_by_recording(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sciconv.run("uatr-deepship", {**TINY_UATR_DEEPSHIP, "dataset.params.root": str(DEEPSHIP_SAMPLE)}, run_dir=run_dir)
    state = json.loads((run_dir / "trained" / "recognition.json").read_text())
    # the public copy's Tanker metafile repeats row numbers, so no ship is known for every recording
    assert state["grouping"] == "recording"
    assert sorted(r for f in state["folds"] for r in f["test"]) == [
        "Passengership/30",
        "Passengership/8",
        "Tanker/19",
        "Tanker/50",
    ]
    for fold in state["folds"]:  # one recording of each class tested per fold
        assert sorted(r.split("/")[0] for r in fold["test"]) == ["Passengership", "Tanker"]
    assert "grouped by recording" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"dataset.params.classes": ["Cargo", "Submarine"]}, "Submarine"),
        ({"task.params.n_folds": 9}, "n_folds"),
        ({"dataset.params.segment_s": 30.0}, "duration_s"),
        ({"task.params.protocol": "split"}, "no fixed train / test split"),
    ],
)
def test_bad_settings_are_one_clear_line(
    overrides: dict[str, Any], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    args = [f"{k}={json.dumps(v)}" for k, v in {**TINY_UATR_CMOE, **overrides}.items()]
    code = cli.main(["run", "uatr-cmoe", *args, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and expected in err, err
    assert not run_dir.exists() or not any(run_dir.iterdir())


def test_a_missing_or_empty_root_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "uatr-deepship", "--run-dir", str(tmp_path / "run")]) != 0
    assert "dataset.params.root" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "Tanker").mkdir(parents=True)
    code = cli.main(["run", "uatr-deepship", f"dataset.params.root={empty}", "--run-dir", str(tmp_path / "run2")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and str(empty) in err


# -- your own network in the pipeline's model slot (method "cmoe") ---------------------------------------------------

# the tiny run's dataset and task settings (3 epochs at lr 0.01: the tiny networks learn something); the model's own
# parameters replace the CMoE's
TINY_DATA_AND_TASK = {
    **{k: v for k, v in TINY_UATR_CMOE.items() if not k.startswith("model.")},
    "train.epochs": 3,
    "train.lr": 0.01,
}


class TinyCNN(nn.Module):
    """A plain classifier: (B, 1, bands, frames) -> (B, n_classes) logits (a band-wise spectrum of conv features,
    averaged over time), no routes, no auxiliary loss."""

    def __init__(self, spec: DataSpec, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.out = nn.Linear(width * spec.input_shape[1], spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.conv(x)).mean(dim=3).flatten(1))


class TinyRoutedCNN(nn.Module):
    """A mixture of experts whose expert count is called ``heads`` (not ``experts``)."""

    def __init__(self, spec: DataSpec, heads: int = 3, residual: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = MixtureOfExpertsHead(4, spec.n_outputs, experts=heads, residual=residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

    def forward_with_routes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.forward(x)
        assert self.head.last_route is not None
        return logits, self.head.last_route

    def auxiliary_loss(self) -> torch.Tensor | None:
        return self.head.last_balance_loss


def _own_model_run(run_dir: Path, factory: type[nn.Module], params: dict[str, Any], methods: list[str]) -> Any:
    pipe = sciconv.load_pipeline("uatr-cmoe", {**TINY_DATA_AND_TASK, "task.params.methods": methods})
    pipe.model = factory
    pipe.config.model.params = params
    return pipe.run(run_dir=run_dir, log=_quiet)


def _assert_predict_reproduces(run_dir: Path, metrics: dict[str, float], factory: type[nn.Module]) -> Any:
    prediction = sciconv.load_run(run_dir).predict(split="test", model=factory, log=_quiet)
    assert prediction.metrics, "labelled test folds give metrics"
    for key, value in prediction.metrics.items():
        assert value == pytest.approx(metrics[key], abs=1e-9), key
    return prediction


def test_a_plain_network_of_your_own_is_scored_as_a_plain_classifier(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _own_model_run(run_dir, TinyCNN, {"width": 4}, ["cmoe", "classical"])
    metrics = result.metrics
    for key in PER_METHOD:
        assert 0.0 <= metrics[f"cmoe.{key}"] <= 1.0
    assert metrics["cmoe.n_folds"] == 2 and metrics["cmoe.acc"] > 0.0  # so that predict reproduces real numbers
    assert not any("routing" in key for key in metrics)  # no experts: no routing metrics
    report = (run_dir / "report.md").read_text()
    assert "| TinyCNN (the pipeline's model, no routing) |" in report
    assert "CMoE (ResNet-18" not in report and "CMoE with" not in report
    assert "the pipeline's model TinyCNN (width=4), a plain classifier" in report and "auxiliary_loss" not in report
    assert "Routing of classes to experts" not in report
    assert (run_dir / "plots" / "confusion.png").is_file() and not (run_dir / "plots" / "routing.png").exists()
    state = json.loads((run_dir / "trained" / "recognition.json").read_text())
    assert state["routed"] == [] and state["n_experts"] is None
    # predict: each fold's test recordings by that fold's network reproduce the run's metrics
    prediction = _assert_predict_reproduces(run_dir, metrics, TinyCNN)
    segments = prediction.tables["segments"]
    assert set(segments["cmoe"]) <= {"Cargo", "Passengership", "Tanker", "Tug"}
    assert "cmoe.expert" not in segments.columns and "cmoe.p" in segments.columns


def test_a_routed_network_of_your_own_keeps_the_routing_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _own_model_run(run_dir, TinyRoutedCNN, {"heads": 3}, ["cmoe", "rcmoe"])
    metrics = result.metrics
    for method in ("cmoe", "rcmoe"):
        assert 0.0 <= metrics[f"{method}.routing_ami_class"] <= 1.0
        assert 0.0 <= metrics[f"{method}.routing_ami_subtype"] <= 1.0
    report = (run_dir / "report.md").read_text()
    assert "| TinyRoutedCNN (the pipeline's model, mixture of experts) |" in report
    assert "| TinyRoutedCNN (the pipeline's model, residual=true, mixture of experts) |" in report
    assert "Routing of classes to experts" in report and "its auxiliary_loss is added" in report
    assert (run_dir / "plots" / "routing.png").stat().st_size > 1000
    state = json.loads((run_dir / "trained" / "recognition.json").read_text())
    # no "experts" parameter: the routing tables are as wide as the experts the folds chose
    assert state["routed"] == ["cmoe", "rcmoe"] and 1 <= state["n_experts"] <= 3
    prediction = _assert_predict_reproduces(run_dir, metrics, TinyRoutedCNN)
    assert prediction.tables["segments"]["rcmoe.expert"].between(0, 2).all()


def test_rcmoe_with_a_network_without_residual_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rcmoe .*TinyCNN takes no residual parameter"):
        _own_model_run(tmp_path / "run", TinyCNN, {"width": 4}, ["cmoe", "rcmoe"])
    assert not (tmp_path / "run" / "trained").exists() or not any((tmp_path / "run" / "trained").glob("*.pt"))
