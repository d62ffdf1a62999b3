"""``predict`` for the SGUQ task: a finished run applied to its own test split reproduces its test metrics bit
for bit; new patients (another simulated cohort, a MOGONET folder lacking an omics) get the staged prediction,
the deciding stage, every stage's uncertainty and the omics needed; data with other features are refused
before anything is written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sciconv
from sciconv.errors import DataError
from sciconv_omics_sguq.cohort_simulator import write_simulated_cohort
from sciconv_omics_sguq.plugin import TINY

STAGE_COLUMNS = [f"stage{s}_{k}" for s in (1, 2, 3) for k in ("predicted", "uncertainty")]
COLUMNS = [
    "sample",
    "split",
    "label",
    "predicted",
    "decided_stage",
    "forced",
    "uncertainty",
    "p_NC",
    "p_AD",
    "omics_needed",
    "n_omics_needed",
    "omics_available",
    *STAGE_COLUMNS,
]
MAIN = ("staged_acc", "staged_f1", "staged_auc", "decided_stage1", "tests_saved", "stage1_acc", "threshold1")


def _run(path: Path, **overrides: Any) -> Path:
    sciconv.run("omics-sguq", overrides={**TINY["omics-sguq"], **overrides}, run_dir=path)
    return path


def _same(a: float, b: float) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("sguq") / "run")


def _check_reproduces(path: Path) -> dict[str, float]:
    metrics = json.loads((path / "metrics.json").read_text())
    prediction = sciconv.load_run(path).predict(split="test")
    assert set(MAIN) | {"n_test", "n_test_unclassifiable"} <= set(prediction.metrics)
    differ = {k: (metrics.get(k), v) for k, v in prediction.metrics.items() if not _same(metrics.get(k), v)}
    assert not differ
    table = prediction.tables["predictions"]
    assert len(table) == metrics["n_test"] and list(table.columns) == COLUMNS
    return prediction.metrics


def test_predict_on_the_runs_test_split_reproduces_its_metrics_exactly(run_dir: Path) -> None:
    names = sorted(p.name for p in (run_dir / "trained").iterdir())
    assert "sguq.json" in names and "context.arrays.safetensors" in names
    assert {f"stage{s}-member{m:02d}.arrays.safetensors" for s in (1, 2, 3) for m in (0, 1)} <= set(names)
    assert {f"stage{s}-graph.arrays.safetensors" for s in (1, 2, 3)} <= set(names)
    _check_reproduces(run_dir)


@pytest.mark.parametrize(
    "overrides",
    [
        # samples lacking omics: stages skipped, forced decisions, ensembles on fewer training patients
        {"dataset.params.missing_fractions": {"meth": 0.25, "mirna": 0.25}, "dataset.params.seed": 3},
        # the official protocol: no validation patients beside the new ones
        {"task.params.mode": "replication", "task.params.save_models": "none"},
    ],
    ids=["missing-omics", "replication"],
)
def test_predict_reproduces_runs_with_missing_omics_and_in_replication_mode(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    metrics = _check_reproduces(_run(tmp_path / "run", **overrides))
    if "dataset.params.missing_fractions" in overrides:
        assert metrics["decided_stage3"] < 1.0


def test_predict_new_patients_of_another_cohort(run_dir: Path, tmp_path: Path) -> None:
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.seed": 5}, out=tmp_path / "out")
    table = prediction.tables["predictions"]
    assert len(table) == 60 and list(table.columns) == COLUMNS  # every sample: 40 training + 20 test rows
    assert set(table["predicted"]) <= {"NC", "AD"} and table["decided_stage"].between(1, 3).all()
    assert (table["p_NC"] + table["p_AD"]).sub(1.0).abs().max() < 1e-6
    for _, row in table.iterrows():
        s = int(row["decided_stage"])
        assert row["uncertainty"] == row[f"stage{s}_uncertainty"] and row["predicted"] == row[f"stage{s}_predicted"]
        assert row["omics_needed"] == "+".join(["mrna", "meth", "mirna"][:s]) and row["n_omics_needed"] == s
    assert all(k.startswith("all.") for k in prediction.metrics) and prediction.metrics["all.n_samples"] == 60
    written = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert list(written.columns) == COLUMNS and len(written) == 60
    assert "SGUQ staged prediction" in (tmp_path / "out" / "report.md").read_text()


def test_predict_patients_lacking_an_omics_entirely(run_dir: Path, tmp_path: Path) -> None:
    root = write_simulated_cohort(tmp_path / "cohort", n_train=40, n_test=20, n_features=12, seed=7)
    for name in ("3_tr.csv", "3_te.csv"):
        (root / name).unlink()
    prediction = sciconv.load_run(run_dir).predict(
        {
            "dataset.name": "omics-sguq.mogonet-layout",
            "dataset.params": {"root": str(root), "modalities": ["mrna", "meth"], "class_names": ["NC", "AD"]},
        },
        split="test",
    )
    table = prediction.tables["predictions"]
    assert len(table) == 20 and (table["split"] == "test").all()
    assert table["decided_stage"].isin([1, 2]).all() and (table["stage3_predicted"] == "").all()
    assert table["stage3_uncertainty"].isna().all() and (table["omics_available"] == "mrna+meth").all()
    at_two = table["decided_stage"] == 2
    assert (table.loc[at_two, "omics_needed"] == "mrna+meth").all()
    # decided at stage 2 only because stage 3 is out of reach: forced when above stage 2's threshold
    threshold2 = json.loads((run_dir / "trained" / "sguq.json").read_text())["thresholds"][1]
    assert (table.loc[at_two, "forced"] == (table.loc[at_two, "stage2_uncertainty"] > threshold2)).all()
    assert prediction.metrics["n_test"] == 20 and prediction.metrics["decided_stage3"] == 0.0


def test_predict_refuses_other_features_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        sciconv.load_run(run_dir).predict({"dataset.params.n_features": 10}, write=True, out=out)
    message = str(info.value)
    assert "the run trained on omics mrna (12 features)" in message
    assert "these data have omics mrna (10 features)" in message and "mrna has 10 features, not 12" in message
    assert "\n" not in message and not out.exists()
