"""The SGUQ task end to end on tiny simulated cohorts: metrics, report and plots, the validation protocol's
blindness to the test labels, the replication mode, resume, missing modalities and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import sciconv
from sciconv.errors import CheckpointError, ConfigError, DataError
from sciconv_omics_sguq import sguq_task
from sciconv_omics_sguq.cohort_simulator import write_simulated_cohort
from sciconv_omics_sguq.models.mogonet import MOGONET, MOGONETNet
from sciconv_omics_sguq.sguq_task import classification_scores

TINY: dict[str, Any] = {
    "dataset.params.n_train": 60,
    "dataset.params.n_test": 30,
    "dataset.params.n_features": 16,
    "task.params.n_models": 3,
    "task.params.n_splits": 2,
    "parallel.n_jobs": 1,
    "task.params.epochs_pretrain": 10,
    "task.params.epochs": 20,
    "model.params.hidden": [16, 16, 8],
    "task.params.mode": "validation",  # 6x cheaper than out_of_fold, which has tests of its own
}
FOLDER: dict[str, Any] = {  # the same sizes for the omics-sguq.mogonet-layout dataset, reading a folder
    **{k: v for k, v in TINY.items() if not k.startswith("dataset.")},
    "dataset.name": "omics-sguq.mogonet-layout",
    "dataset.params": {},
    "task.params.n_splits": 0,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> sciconv.RunResult:
    return sciconv.run("omics-sguq", overrides=TINY, run_dir=tmp_path_factory.mktemp("sguq") / "run")


def _untimed(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics but the training time (which differs from run to run)."""
    return {k: v for k, v in metrics.items() if k != "training_seconds"}


def _member_dirs(run: Path) -> list[Path]:
    return sorted(p.parent for p in (run / "checkpoints" / "sguq").rglob("manifest.json"))


def test_metrics_cover_the_protocol(tiny_run: sciconv.RunResult) -> None:
    m = tiny_run.metrics
    for key in ("staged_acc", "staged_f1", "staged_auc", "tests_saved", "mogonet_single_acc", "forced"):
        assert 0.0 <= m[key] <= 1.0, key
        assert 0.0 <= m[f"{key}_mean"] <= 1.0 and m[f"{key}_sd"] >= 0.0, key
    for s in (1, 2, 3):
        for score in ("acc", "f1", "auc"):
            assert 0.0 <= m[f"stage{s}_{score}"] <= 1.0
            assert f"stage{s}_{score}_mean" in m and f"stage{s}_{score}_sd" in m
    decided = [m[f"decided_stage{s}"] for s in (1, 2, 3)]
    assert sum(decided) == pytest.approx(1.0) and all(0.0 <= d <= 1.0 for d in decided)
    assert sum(m[f"decided_stage{s}_mean"] for s in (1, 2, 3)) == pytest.approx(1.0)
    # tests saved follows from the fractions decided: stage s needs s assays of 3
    assert m["tests_saved"] == pytest.approx(1 - (decided[0] + 2 * decided[1] + 3 * decided[2]) / 3)
    assert m["threshold1"] >= 0.0 and m["threshold2"] >= 0.0 and "threshold3" not in m
    assert m["n_test"] == 30 and m["n_splits"] == 2 and m["thresholds_tuned_on_test"] == 0.0
    assert json.loads((tiny_run.run_dir / "metrics.json").read_text()) == m


def test_run_directory_explains_itself(tiny_run: sciconv.RunResult) -> None:
    run = tiny_run.run_dir
    report = (run / "report.md").read_text()
    assert "| SGUQ staged (fixed split, validation-split thresholds) |" in report
    assert "SGUQ staged (2 repeated splits, mean ± SD, validation-split thresholds)" in report
    assert "MOGONET (single model), mrna + meth + mirna (fixed split)" in report
    assert "stage 1 ensemble alone, mrna (fixed split)" in report
    assert "published: Wang et al., Nat Commun 12, 3445 (2021)" in report and "| 0.815 | 0.821 | 0.874 |" in report
    assert "published: Tao et al., SGUQ" in report and "| 0.858 |" in report and "| 0.4623 | 0.1604 |" in report
    assert "thresholds tuned on the test set | 0.877 |" in report
    assert "Mode validation" in report and "shortened schedule" in report and "TEST set" not in report
    for name in ("uncertainty_by_stage", "accuracy_vs_decided", "training_losses"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 10_000
        assert f"](plots/{name}.png)" in report
    members = _member_dirs(run)
    assert len(members) == 3 * 3 * 3  # splits x stages x members
    with_weights = [p for p in members if (p / "model.safetensors").is_file()]
    assert {p.parts[-3] for p in with_weights} == {"fixed"} and len(with_weights) == 9
    assert type(tiny_run.model).__name__ == "MOGONET" and tiny_run.model.n_views == 3


def _folder_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A cohort folder and a copy whose test labels are permuted."""
    root = write_simulated_cohort(tmp_path / "cohort", n_train=60, n_test=30, n_features=16, seed=1)
    permuted = tmp_path / "permuted"
    shutil.copytree(root, permuted)
    labels = (root / "labels_te.csv").read_text().splitlines()
    order = np.random.default_rng(0).permutation(len(labels))
    (permuted / "labels_te.csv").write_text("\n".join(labels[i] for i in order) + "\n")
    assert [labels[i] for i in order] != labels
    return root, permuted


def _spy_on_thresholds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many samples each threshold search is given."""
    seen: list[int] = []
    search = sguq_task.threshold_grid

    def spy(outputs: Any, y: np.ndarray, available: np.ndarray, **kwargs: Any) -> Any:
        seen.append(len(y))
        return search(outputs, y, available, **kwargs)

    monkeypatch.setattr(sguq_task, "threshold_grid", spy)
    return seen


def test_validation_mode_never_uses_the_test_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_thresholds(monkeypatch)
    root, permuted = _folder_pair(tmp_path)
    runs = [
        sciconv.run(
            "omics-sguq", overrides={**FOLDER, "dataset.params.root": str(r)}, run_dir=tmp_path / f"run-{r.name}"
        )
        for r in (root, permuted)
    ]
    assert seen == [12, 12]  # the thresholds are searched on the 12 validation samples (20 % of 60 training)
    a, b = (r.metrics for r in runs)
    # the thresholds and every decision are the same; only scores against the (permuted) labels move
    for key in ("threshold1", "threshold2", "decided_stage1", "decided_stage2", "decided_stage3", "tests_saved"):
        assert a[key] == b[key], key
    assert (a["staged_acc"], a["stage3_acc"], a["staged_auc"]) != (b["staged_acc"], b["stage3_acc"], b["staged_auc"])
    assert a["thresholds_tuned_on_test"] == 0.0


def test_out_of_fold_mode_tunes_on_every_training_sample_never_on_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mode out_of_fold: the thresholds are searched on all 60 training samples' out-of-fold outputs (and, for
    the validation-split comparison, on fold 1's 12 held-out samples); permuting the test labels moves no
    threshold and no decision; the final ensembles train on all training samples, the folds' on the others."""
    seen = _spy_on_thresholds(monkeypatch)
    root, permuted = _folder_pair(tmp_path)
    overrides = {**FOLDER, "task.params.mode": "out_of_fold", "task.params.folds": 5}
    runs = [
        sciconv.run(
            "omics-sguq", overrides={**overrides, "dataset.params.root": str(r)}, run_dir=tmp_path / f"run-{r.name}"
        )
        for r in (root, permuted)
    ]
    assert seen == [60, 12, 60, 12]
    a, b = (r.metrics for r in runs)
    for key in ("threshold1", "threshold2", "decided_stage1", "decided_stage3", "tuning_staged_acc"):
        assert a[key] == b[key], key
    for key in ("valsplit_threshold1", "valsplit_decided_stage1", "valsplit_tests_saved"):
        assert a[key] == b[key], key
    assert (a["staged_acc"], a["stage3_acc"], a["staged_auc"]) != (b["staged_acc"], b["stage3_acc"], b["staged_auc"])
    for m in (a, b):
        assert 0.0 <= m["tuning_staged_acc"] <= 1.0 and 0.0 <= m["tuning_last_stage_acc"] <= 1.0
        assert sum(m[f"valsplit_decided_stage{s}"] for s in (1, 2, 3)) == pytest.approx(1.0)
        assert m["training_seconds"] > 0.0
    run = runs[0].run_dir
    members = _member_dirs(run)
    assert len(members) == 6 * 3 * 3  # (5 folds + final) x stages x members
    folds = sorted({p.parts[-3] for p in members if p.parts[-3].startswith("fold")})
    assert folds == [f"fold{j}" for j in range(1, 6)]
    with_weights = [p for p in members if (p / "model.safetensors").is_file()]
    assert {p.parts[-3] for p in with_weights} == {"fixed"}  # the final ensembles' only
    report = (run / "report.md").read_text()
    assert "Mode out_of_fold" in report and "out-of-fold thresholds, 5 folds" in report
    assert "validation-split thresholds: fold 1's ensembles on 48 samples" in report
    assert "## Cost" in report and "(5 folds + the final one)" in report and "= 54 stage models" in report
    assert "](plots/threshold_tradeoff.png)" in report
    assert (run / "plots" / "threshold_tradeoff.png").stat().st_size > 10_000
    # the validation-split comparison is mode validation's protocol run on fold 1's ensembles
    assert "| out-of-fold: staged ACC |" in report


def test_tuning_samples_meet_the_ensembles_that_held_them_out() -> None:
    task = sguq_task.StagedSGUQTask(mode="out_of_fold", folds=3)
    folds = ((np.array([2, 3, 4, 5]), np.array([0, 1])), (np.array([0, 1, 4, 5]), np.array([2, 3])))
    folds += ((np.array([0, 1, 2, 3]), np.array([4, 5])),)
    split = sguq_task._Split("fixed", np.arange(6), np.zeros(0, dtype=np.int64), np.array([6, 7]), folds)
    classifiable = np.ones(8, dtype=bool)
    classifiable[3] = False
    rows, names = task._tuning(split, classifiable)
    assert rows.tolist() == [0, 1, 2, 4, 5]
    assert names.tolist() == ["fixed/fold1", "fixed/fold1", "fixed/fold2", "fixed/fold3", "fixed/fold3"]
    assert [e[0] for e in split.ensembles()] == ["fixed/fold1", "fixed/fold2", "fixed/fold3", "fixed"]
    assert split.ensembles()[0][2].tolist() == [0, 1, 6, 7]  # held-out and test samples
    assert split.ensembles()[-1][1].tolist() == list(range(6)) and split.ensembles()[-1][2].tolist() == [6, 7]


def test_replication_mode_tunes_on_test_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_thresholds(monkeypatch)
    overrides = {**TINY, "task.params.n_splits": 0, "task.params.mode": "replication"}
    replication = sciconv.run("omics-sguq", overrides=overrides, run_dir=tmp_path / "replication")
    assert seen == [30]  # the 30 test samples
    assert replication.metrics["thresholds_tuned_on_test"] == 1.0
    report = (replication.run_dir / "report.md").read_text()
    assert "| SGUQ staged (fixed split, thresholds tuned on the TEST set) |" in report
    assert "this run (test-tuned)" in report and "Mode replication" in report and "optimistic" in report
    # replication trains on all 60 training samples: its members predict the test samples only
    first = _member_dirs(replication.run_dir)[0]
    member = sguq_task.read_member(first, _fingerprint(first))
    assert member is not None and len(member.samples) == 30


def _fingerprint(member_dir: Path) -> str:
    return json.loads((member_dir / "manifest.json").read_text())["fingerprint"]


def test_resume_trains_only_unfinished_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one member per job; the three stages train on the same samples, so each job trains a member's three
    # stage models together (their GCNs shared)
    overrides = {**TINY, "task.params.n_splits": 0, "task.params.n_models": 3, "task.params.members_per_job": 1}
    fresh = sciconv.run("omics-sguq", overrides=overrides, run_dir=tmp_path / "fresh")

    trained: list[tuple[int, int]] = []  # per job: (members, stage models per member)
    train = sguq_task._train_members

    def crashing(*args: Any) -> Any:
        if len(trained) == 2:
            raise RuntimeError("killed")
        trained.append((len(args[5]), len(args[3])))  # seeds, fusions
        return train(*args)

    monkeypatch.setattr(sguq_task, "_train_members", crashing)
    with pytest.raises(RuntimeError, match="killed"):
        sciconv.run("omics-sguq", overrides=overrides, run_dir=tmp_path / "run")
    run = tmp_path / "run"
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    assert trained == [(1, 3), (1, 3)]
    assert len(_member_dirs(run)) == 6  # the finished jobs' members are kept, complete
    (run / "checkpoints" / "sguq" / "fixed" / "stage3" / ".tmp-member-00-x").mkdir(parents=True)  # a killed write

    def counting(*args: Any) -> Any:
        trained.append((len(args[5]), len(args[3])))
        return train(*args)

    trained.clear()
    monkeypatch.setattr(sguq_task, "_train_members", counting)
    resumed = sciconv.run(resume=run)
    assert trained == [(1, 3)] and len(_member_dirs(run)) == 9
    assert not list(run.rglob(".tmp-*"))
    assert _untimed(resumed.metrics) == _untimed(fresh.metrics)
    assert "were reused from an earlier run" in (run / "report.md").read_text()

    # members missing from finished ensembles: only their members are trained (with the stages they share
    # their GCNs with), and they come out the same, so every metric does
    for stage, member in (("stage1", "member-01"), ("stage3", "member-00")):
        shutil.rmtree(run / "checkpoints" / "sguq" / "fixed" / stage / member)
    trained.clear()
    again = sciconv.run(resume=run)
    assert trained == [(1, 3), (1, 3)] and len(_member_dirs(run)) == 9
    assert _untimed(again.metrics) == _untimed(fresh.metrics)

    # a member modified after it was written is refused, not silently reused
    proba = _member_dirs(run)[0] / "proba.safetensors"
    proba.write_bytes(proba.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CheckpointError, match="SHA-256 does not match"):
        sciconv.run(resume=run)


def test_results_do_not_depend_on_jobs_or_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One member per job on two workers gives the metrics of whole ensembles per job on one (mode out_of_fold:
    the folds' ensembles are jobs too)."""
    overrides = {**TINY, "task.params.n_splits": 0, "task.params.mode": "out_of_fold"}
    whole = sciconv.run("omics-sguq", overrides=overrides, run_dir=tmp_path / "whole")
    chunked = sciconv.run(
        "omics-sguq",
        overrides={**overrides, "parallel.n_jobs": 2, "task.params.members_per_job": 1},
        run_dir=tmp_path / "chunked",
    )
    assert _untimed(chunked.metrics) == _untimed(whole.metrics)
    for a, b in zip(_member_dirs(whole.run_dir), _member_dirs(chunked.run_dir), strict=True):
        assert a.relative_to(whole.run_dir) == b.relative_to(chunked.run_dir)
        for name in ("proba.safetensors", "model.safetensors"):
            if (a / name).is_file():
                assert (a / name).read_bytes() == (b / name).read_bytes(), a / name


def test_the_networks_trained_are_built_by_the_model_component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network trained comes from the pipeline's model factory with model.params, one model per member and
    stage (the stages share the member's GCNs: each omics' GCN from the first stage that has it)."""
    built: list[tuple[Any, dict[str, Any], list[str], MOGONET]] = []
    build = sguq_task._StageModels.__call__

    def spy(self: Any, f: int) -> MOGONET:
        model = build(self, f)
        built.append((self.factory, dict(self.params), list(self.specs[f].extra["modalities"]), model))
        return model

    monkeypatch.setattr(sguq_task._StageModels, "__call__", spy)
    result = sciconv.run("omics-sguq", overrides={**TINY, "task.params.n_splits": 0}, run_dir=tmp_path / "run")
    assert len(built) == 3 * 3  # members x stages of the fixed split, built in this process (parallel.n_jobs 1)
    assert all(factory is MOGONETNet for factory, *_ in built)
    assert all(tuple(params["hidden"]) == (16, 16, 8) and params["k"] == 2 for _, params, *_ in built)
    assert [omics for *_, omics, _ in built[:3]] == [["mrna"], ["mrna", "meth"], ["mrna", "meth", "mirna"]]
    # the networks the factory built are the ones trained: member 0's stage-3 model is the run's model
    trained = built[2][3]
    assert result.model is not None
    for (name, a), b in zip(result.model.state_dict().items(), trained.state_dict().values(), strict=True):
        if name.startswith(("vcdn", "encoders.2", "classifiers.2")):  # the modules taken from the stage-3 model
            assert torch.equal(a, b), name
    assert torch.equal(result.model.encoders[0].convs[0].lin.weight, built[0][3].encoders[0].convs[0].lin.weight)


def test_jobs_are_chunks_of_ensembles_most_expensive_first() -> None:
    task = sguq_task.StagedSGUQTask(n_models=4)

    def pending(split: str, stage: int, members: list[int]) -> list[Any]:
        # each stage its own group (as when missing modalities leave the stages different training samples)
        return [sguq_task._Job(split, stage, m, m, "", np.zeros(0), np.zeros(0), False, (stage,)) for m in members]

    every = {j.key: j for split in ("fixed", "split-01") for s in range(3) for j in pending(split, s, [0, 1, 2, 3])}

    def chunks_of(jobs: list[Any], n_workers: int) -> list[Any]:
        return task._chunks(jobs, every, n_workers=n_workers)

    jobs = pending("fixed", 0, [0, 1, 2, 3]) + pending("fixed", 2, [1, 3]) + pending("split-01", 1, [0, 1, 2, 3])
    chunks = chunks_of(jobs, n_workers=2)  # three ensembles for two workers: one job each
    assert [c.keys for c in chunks] == [
        [("split-01", 1, m) for m in range(4)],  # 2 omics x 4 members
        [("fixed", 2, 1), ("fixed", 2, 3)],  # 3 omics x 2 members
        [("fixed", 0, m) for m in range(4)],  # 1 omics x 4 members
    ]
    # one ensemble left for two workers: two chunks
    assert [c.keys for c in chunks_of(pending("fixed", 1, [0, 1, 2, 3]), n_workers=2)] == [
        [("fixed", 1, 0), ("fixed", 1, 1)],
        [("fixed", 1, 2), ("fixed", 1, 3)],
    ]
    task.members_per_job = 3  # ensembles of 4 pending members in two chunks of 2
    assert [c.keys for c in chunks_of(jobs, n_workers=2)] == [
        [("fixed", 2, 1), ("fixed", 2, 3)],
        [("split-01", 1, 0), ("split-01", 1, 1)],
        [("split-01", 1, 2), ("split-01", 1, 3)],
        [("fixed", 0, 0), ("fixed", 0, 1)],
        [("fixed", 0, 2), ("fixed", 0, 3)],
    ]
    task.members_per_job = 0


def test_stages_with_the_same_samples_train_together() -> None:
    """Stages that train on the same samples form one job per chunk of members: a member with any of the
    group's stages pending is trained with all of them (they share its GCNs)."""
    task = sguq_task.StagedSGUQTask(n_models=2)
    group = (0, 1, 2)
    every = {
        (split, s, m): sguq_task._Job(split, s, m, m, "", np.zeros(0), np.zeros(0), False, group)
        for split in ("fixed", "split-01")
        for s in group
        for m in (0, 1)
    }
    pending = [every[("fixed", 1, 1)], every[("split-01", 0, 0)], every[("split-01", 2, 0)], every[("split-01", 1, 1)]]
    chunks = task._chunks(pending, every, n_workers=2)
    assert [c.keys for c in chunks] == [
        [("split-01", s, m) for m in (0, 1) for s in group],  # member-major, 2 members x 3 stages
        [("fixed", s, 1) for s in group],
    ]
    assert [c.name for c in chunks] == ["split-01/stage1+2+3/members-00-01", "fixed/stage1+2+3/members-01"]


def test_missing_modalities_skip_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fit_sizes: dict[int, list[int]] = {}
    train = sguq_task._train_members

    def spy(views_fit: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        assert all(np.isfinite(v).all() for v in views_fit)
        fit_sizes.setdefault(len(views_fit), []).append(len(views_fit[0]))
        return train(views_fit, *args, **kwargs)

    monkeypatch.setattr(sguq_task, "_train_members", spy)
    missing = {"meth": 0.3, "mirna": 0.3}
    result = sciconv.run(
        "omics-sguq",
        overrides={**TINY, "task.params.n_splits": 0, "dataset.params.missing_fractions": missing},
        run_dir=tmp_path / "run",
    )
    # 48 fitting samples (60 minus 12 for validation) have mRNA; fewer have methylation, fewer still all three
    assert set(fit_sizes[1]) == {48} and max(fit_sizes[2]) < 48 and max(fit_sizes[3]) < max(fit_sizes[2])
    # a stage's members predict exactly the validation and test samples that have its omics
    stage_dirs = {p.parts[-2]: p for p in _member_dirs(result.run_dir) if p.name == "member-00"}
    sizes = {stage: len(sguq_task.read_member(d, _fingerprint(d)).samples) for stage, d in sorted(stage_dirs.items())}
    assert sizes["stage1"] == 42 > sizes["stage2"] > sizes["stage3"]
    m = result.metrics
    assert sum(m[f"decided_stage{s}"] for s in (1, 2, 3)) == pytest.approx(1.0)
    assert m["forced"] > 0.0 and m["n_test_unclassifiable"] == 0.0  # lacking mirna: decided at stage 2 at most
    report = (result.run_dir / "report.md").read_text()
    assert "## Missing modalities" in report and "meth missing for 27" in report


def test_samples_without_any_stage_are_left_out_three_classes(tmp_path: Path) -> None:
    result = sciconv.run(
        "omics-sguq",
        overrides={
            **TINY,
            "dataset.params.n_classes": 3,
            "dataset.params.n_train": 90,
            "task.params.n_splits": 0,
            "task.params.stages": [["meth"], ["meth", "mrna"]],
            "dataset.params.missing_fractions": {"meth": 0.2},
        },
        run_dir=tmp_path / "run",
    )
    m = result.metrics
    assert m["n_test_unclassifiable"] == 6.0  # 20 % of the 30 test samples lack methylation
    assert m["decided_stage1"] + m["decided_stage2"] == pytest.approx(1.0) and "decided_stage3" not in m
    assert 0.0 <= m["staged_f1"] <= 1.0 and 0.0 <= m["staged_auc"] <= 1.0
    assert "have the omics of no stage and are left out" in (result.run_dir / "report.md").read_text()


def test_scores_follow_mogonets_conventions() -> None:
    y = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    scores = classification_scores(y, pred, proba, 2)
    assert scores["acc"] == pytest.approx(0.6)
    assert scores["f1"] == pytest.approx(2 / 3)  # F1 of class 1 (precision 2/3, recall 2/3)
    assert scores["auc"] == pytest.approx(5 / 6)
    three = classification_scores(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]), np.eye(3)[[0, 1, 1, 2]], 3)
    assert three["f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3]))  # macro
    assert np.isnan(classification_scores(np.array([1, 1]), np.array([1, 0]), proba[:2], 2)["auc"])


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"task.params.stages": [["rna"]]}, ConfigError, r"stages\[0\]: unknown omics 'rna'.*the data hold mrna"),
        ({"task.params.stages": [["mrna"], ["mrna"]]}, ConfigError, "two stages use the same omics"),
        ({"task.params.stages": [[]]}, ConfigError, "non-empty lists"),
        (
            {"task.params.mode": "test"},
            ConfigError,
            r"task\.params\.mode: expected one of out_of_fold, validation, replication",
        ),
        ({"task.params.folds": 1}, ConfigError, r"task\.params\.folds: expected an integer >= 2"),
        ({"task.params.threshold_rule": "cheap"}, ConfigError, r"threshold_rule: expected one of best, within"),
        ({"task.params.tolerance": 2.0}, ConfigError, r"task\.params\.tolerance"),
        (
            {"task.params.mode": "out_of_fold", "task.params.folds": 40},
            DataError,
            r"too few training samples for 40-fold cross-validation .*task\.params\.folds",
        ),
        ({"task.params.n_splits": 1}, ConfigError, r"n_splits: expected 0 .* or at least 2"),
        ({"task.params.val_fraction": 1.0}, ConfigError, r"val_fraction: expected a fraction in \(0, 1\)"),
        ({"parallel.n_jobs": 0}, ConfigError, r"parallel\.n_jobs"),
        ({"task.params.members_per_job": -1}, ConfigError, "members_per_job"),
        ({"task.params.lr_gcn": 0.0}, ConfigError, "lr_gcn"),
        ({"task.params.n_models": 0}, ConfigError, r"task\.params\.n_models: expected an integer >= 1"),
        ({"task.params.n_splits": -2}, ConfigError, r"task\.params\.n_splits: expected an integer >= 0"),
        ({"task.params.epochs": -1}, ConfigError, r"task\.params\.epochs: expected an integer >= 0"),
        ({"task.params.candidates": 1}, ConfigError, r"task\.params\.candidates: expected an integer >= 2"),
        ({"task.params.lr_vcdn": float("inf")}, ConfigError, r"task\.params\.lr_vcdn: .*finite"),
        ({"dataset.params.n_train": 4, "dataset.params.n_test": 4}, DataError, "too few training samples for a strat"),
        ({"model.params.dropout": 1.5}, ConfigError, r"model\.params\.dropout"),
        ({"model.name": "demo.cnn1d", "model.params": {}}, ConfigError, "model.name must be omics-sguq.mogonet"),
    ],
)
def test_bad_input(tmp_path: Path, overrides: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        sciconv.run("omics-sguq", overrides={**TINY, **overrides}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
