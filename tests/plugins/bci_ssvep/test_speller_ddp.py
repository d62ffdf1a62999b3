"""bci-ssvep on 2 DDP ranks reproduces the single-process run.

The Guney DNN has no batch norm; with its dropouts at 0 nothing depends on the rank, so two gloo ranks,
each with half of every global batch of 20 trials, must follow the single-process trajectory up to float
rounding (different summation order in the gradient all-reduce and one thread per rank). Stated tolerance:
stage-1 training loss within 1e-4 relative at every epoch, and the same accuracy for every method, subject
and window.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import sciconv
from sciconv.launcher import launch_pipeline

OVERRIDES = [
    "dataset.params.n_subjects=2",
    "dataset.params.n_blocks=3",
    "task.params.windows=[0.3]",
    "task.params.test_blocks=[0]",
    "task.params.stage2_epochs=3",
    "task.params.stage1_dropout=[0,0,0]",
    "task.params.stage2_dropout=0",
    "train.epochs=4",
    "train.batch_size=20",
    "train.progress=false",
    "parallel.n_jobs=1",
]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_two_ranks_reproduce_the_single_process_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path / "cache"))  # the ranks reuse the single run's subjects
    single = sciconv.run("bci-ssvep", OVERRIDES, run_dir=tmp_path / "single")
    launch_pipeline("bci-ssvep", OVERRIDES, nproc=2, run_dir=str(tmp_path / "ddp"), resume=None)
    ddp = tmp_path / "ddp"
    expected = rows(single.run_dir / "history.csv")
    got = rows(ddp / "history.csv")
    assert [(r["fit"], r["epoch"]) for r in got] == [(r["fit"], r["epoch"]) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)
    # The per-subject fine-tuning jobs were shared between the ranks; every cell is the same.
    assert rows(ddp / "cells.csv") == rows(single.run_dir / "cells.csv")
    assert json.loads((ddp / "metrics.json").read_text()) == single.metrics
