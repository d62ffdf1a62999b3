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
        # validation patients beside the new ones (the default, out_of_fold, has none)
        {"task.params.mode": "validation"},
    ],
    ids=["missing-omics", "replication", "validation"],
)
def test_predict_reproduces_runs_with_missing_omics_and_in_other_modes(
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


def _unlabelled_folder(folder: Path, seed: int = 9) -> Path:
    """A MOGONET folder of 20 new patients only: the ``{i}_te.csv`` files, no labels, no training split."""
    root = write_simulated_cohort(folder, n_train=40, n_test=20, n_features=12, seed=seed)
    for path in root.iterdir():
        if path.name.startswith("labels_") or path.name.endswith("_tr.csv"):
            path.unlink()
    return root


def _unlabelled_params(root: Path) -> dict[str, Any]:
    return {
        "dataset.name": "omics-sguq.mogonet-layout",
        "dataset.params": {"root": str(root), "class_names": ["NC", "AD"], "unlabelled": True},
    }


UNLABELLED_COLUMNS = [c for c in COLUMNS if c != "label"]


@pytest.mark.parametrize("split", ["all", "test"])
def test_predict_unlabelled_new_patients(run_dir: Path, tmp_path: Path, split: str) -> None:
    root = _unlabelled_folder(tmp_path / "new")
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict(_unlabelled_params(root), split=split, out=out)
    table = prediction.tables["predictions"]
    assert list(table.columns) == UNLABELLED_COLUMNS and len(table) == 20
    assert list(table["sample"]) == [f"te{k:04d}" for k in range(20)]
    assert set(table["predicted"]) <= {"NC", "AD"} and table["decided_stage"].between(1, 3).all()
    assert prediction.metrics == {}
    written = pd.read_csv(out / "predictions.csv")
    assert list(written.columns) == UNLABELLED_COLUMNS and len(written) == 20
    assert not (out / "metrics.json").exists() or json.loads((out / "metrics.json").read_text()) == {}
    assert "Metrics" not in (out / "report.md").read_text()


def test_predict_unlabelled_h5mu(run_dir: Path, tmp_path: Path) -> None:
    from sciconv_omics_sguq.mogonet_io import read_mogonet

    mdata = read_mogonet(write_simulated_cohort(tmp_path / "cohort", n_train=40, n_test=20, n_features=12, seed=4))
    mdata.obs = mdata.obs.drop(columns=["label", "split"])
    path = tmp_path / "new.h5mu"
    mdata.write_h5mu(path)
    params = _unlabelled_params(path)
    params["dataset.params"]["modalities"] = ["mrna", "meth", "mirna"]
    prediction = sciconv.load_run(run_dir).predict(params)
    table = prediction.tables["predictions"]
    assert list(table.columns) == UNLABELLED_COLUMNS and len(table) == 60 and prediction.metrics == {}
    assert list(table["sample"]) == list(mdata.obs_names)


def test_unlabelled_data_cannot_be_trained_on(tmp_path: Path) -> None:
    root = _unlabelled_folder(tmp_path / "new")
    overrides = {**TINY["omics-sguq-rosmap"], "dataset.params.root": str(root), "dataset.params.unlabelled": True}
    with pytest.raises(DataError) as info:
        sciconv.run("omics-sguq-rosmap", overrides=overrides, run_dir=tmp_path / "run")
    message = str(info.value)
    assert "dataset.params.unlabelled=true" in message and "carry no labels" in message and "\n" not in message


def test_unlabelled_data_need_the_class_names(tmp_path: Path) -> None:
    from sciconv.errors import ConfigError
    from sciconv_omics_sguq.datasets import MOGONETDataset

    root = _unlabelled_folder(tmp_path / "new")
    with pytest.raises(ConfigError, match=r"dataset\.params\.class_names: .*dataset\.params\.unlabelled=true"):
        MOGONETDataset(root=str(root), unlabelled=True).load()
    bundle = MOGONETDataset(root=str(root), unlabelled=True, class_names=("NC", "AD")).load()
    assert bundle.train is None and len(bundle.test) == 20 and bundle.spec.classes == ("NC", "AD")
    assert (bundle.test.tensors[1] == -1).all() and bundle.spec.extra["unlabelled"] is True
    assert bundle.spec.extra["n_features"] == [12, 12, 12]
    # the default still needs labels
    with pytest.raises(DataError, match=r"no 1_tr\.csv.*dataset\.params\.unlabelled=true"):
        MOGONETDataset(root=str(root)).load()


def test_unlabelled_h5ad_needs_no_label_or_split(tmp_path: Path) -> None:
    import anndata as ad
    import numpy as np

    from sciconv_omics_sguq.mogonet_io import UNLABELLED, read_omics

    var = pd.DataFrame({"modality": ["mrna", "mrna", "meth", "meth"]}, index=list("abcd"))
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    x[1, 2:] = np.nan  # patient p1 lacks methylation
    ad.AnnData(X=x, var=var, obs=pd.DataFrame(index=[f"p{i}" for i in range(5)])).write_h5ad(tmp_path / "new.h5ad")
    with pytest.raises(DataError, match=r"no obs\['label'\].*dataset\.params\.unlabelled=true"):
        read_omics(tmp_path / "new.h5ad")
    mdata = read_omics(tmp_path / "new.h5ad", unlabelled=True)
    assert list(mdata.mod) == ["mrna", "meth"] and list(mdata.mod["meth"].obs_names) == ["p0", "p2", "p3", "p4"]
    assert (mdata.obs["label"] == UNLABELLED).all() and (mdata.obs["split"] == "test").all()
