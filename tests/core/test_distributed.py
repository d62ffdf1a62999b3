"""DDP through torchrun's launcher: 2 gloo ranks of a real pipeline on this machine.

Tolerances: the demo's CNN has batch norm, whose statistics each rank computes on its half of the global
batch (SyncBatchNorm is GPU-only), and dropout, whose masks each rank draws from its own stream; so two
ranks follow a different, equally valid trajectory. The test allows 0.08 between their final test
accuracies (13 of 160 test trials; both runs reach about 0.9). Without batch norm and dropout the two
ranks reproduce the single-process run to float rounding (see tests/plugins/bci_ssvep/test_speller_ddp.py).
"""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler

import sciconv
from sciconv import distributed
from sciconv.distributed import DistributedError, shard_bounds
from sciconv.engine import ShardedBatchSampler
from sciconv.launcher import launch, launch_pipeline

FAST = ["train.progress=false", "dataset.params.n_trials=800"]


def history(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "history.csv").open() as fh:
        return list(csv.DictReader(fh))


# --- pieces -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 5, 64, 65])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_shards_partition_in_order(n: int, world_size: int) -> None:
    bounds = [shard_bounds(n, world_size, r) for r in range(world_size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_sharded_batches_are_the_single_process_batches_split() -> None:
    n, batch = 23, 8
    single = list(BatchSampler(RandomSampler(range(n), generator=torch.Generator().manual_seed(1)), batch, False))
    shards = []
    for rank in range(3):
        sampler = ShardedBatchSampler(
            BatchSampler(RandomSampler(range(n), generator=torch.Generator().manual_seed(1)), batch, False), rank, 3
        )
        shards.append(list(sampler))
        assert len(sampler) == len(single)
        for step, indices in enumerate(shards[-1]):
            real, n_global, world_size = sampler.sizes(step, n)
            assert (n_global, world_size) == (len(single[step]), 3)
            assert len(indices) == real
    for step, whole in enumerate(single):
        assert [i for rank in range(3) for i in shards[rank][step]] == whole


def test_a_batch_smaller_than_the_world_gives_weightless_samples() -> None:
    sampler = ShardedBatchSampler(BatchSampler(range(9), 4, False), rank=1, world_size=2)
    batches = list(sampler)
    assert batches[-1] == [8]  # the last global batch holds one sample: rank 1 repeats it ...
    assert sampler.sizes(2, 9) == (0, 1, 2)  # ... with weight 0


def test_a_directory_travels_to_other_ranks(tmp_path: Path) -> None:
    source = tmp_path / "run"
    (source / "checkpoints" / "model").mkdir(parents=True)
    (source / "config.yaml").write_text("name: x\n")
    (source / "checkpoints" / "model" / "w.bin").write_bytes(bytes(range(256)))
    distributed.unpack_directory(distributed.pack_directory(source), tmp_path / "copy")
    assert (tmp_path / "copy" / "config.yaml").read_text() == "name: x\n"
    assert (tmp_path / "copy" / "checkpoints" / "model" / "w.bin").read_bytes() == bytes(range(256))


def test_without_a_process_group_everything_is_local() -> None:
    assert distributed.world() == distributed.World()
    assert not distributed.active()
    assert distributed.all_reduce_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.all_gather_objects({"a": 1}) == [{"a": 1}]


def test_launch_runs_every_rank() -> None:
    from ddp_workers import rank_and_world

    assert launch(rank_and_world, (), 2) == {0: (0, 2), 1: (1, 2)}


def test_nproc_must_be_positive() -> None:
    from ddp_workers import rank_and_world

    with pytest.raises(sciconv.ConfigError, match="--nproc"):
        launch(rank_and_world, (), 0)


# --- a real pipeline ----------------------------------------------------------------------------


def test_two_ranks_train_the_demo_like_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the other rank keeps its scratch copy
    single = sciconv.run("demo-signal", FAST, run_dir=tmp_path / "single")
    outcome = launch_pipeline("demo-signal", FAST, nproc=2, run_dir=str(tmp_path / "ddp"), resume=None)
    ddp = tmp_path / "ddp"
    assert outcome["run_dir"] == str(ddp)
    assert outcome["metrics"] == json.loads((ddp / "metrics.json").read_text())
    assert abs(outcome["metrics"]["test.accuracy"] - single.metrics["test.accuracy"]) <= 0.08
    assert outcome["metrics"]["test.accuracy"] > 0.8
    # The same global batch: the same number of optimiser steps per epoch, losses on the same scale.
    first = history(ddp)[0]
    assert abs(float(first["train_loss"]) - float(history(single.run_dir)[0]["train_loss"])) < 0.1
    status = json.loads((ddp / "status.json").read_text())
    assert status["status"] == "completed"
    assert status["distributed"] == {"world_size": 2, "backend": "gloo"}
    # Rank 0 wrote what a single process writes; rank 1's scratch copy is gone.
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.run_dir.iterdir())
    assert not list(tmp_path.glob("sciconv-rank*"))


def test_a_failing_rank_ends_the_run_promptly_and_resume_continues_it(tmp_path: Path) -> None:
    from ddp_workers import pipeline_rank_with_fault

    overrides = [*FAST, "train.epochs=4", "train.early_stopping.patience=null", "train.scheduler.name=cosine"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started = time.perf_counter()
    with pytest.raises(DistributedError, match=r"rank 1 failed: RuntimeError: injected failure in rank 1"):
        launch(pipeline_rank_with_fault, ("demo-signal", overrides, str(run_dir), "raise"), 2)
    assert time.perf_counter() - started < 90  # process start-up included; nothing waits for a timeout
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed"  # rank 0 noticed, recorded it and kept its checkpoint
    assert (run_dir / "checkpoints" / "model" / "epoch-000001").is_dir()
    assert not (run_dir / "metrics.json").exists()

    launch_pipeline(None, [], nproc=2, run_dir=None, resume=str(run_dir))
    launch_pipeline("demo-signal", overrides, nproc=2, run_dir=str(tmp_path / "whole"), resume=None)
    # The data order, every rank's random stream, the optimiser and the schedule continued where they were.
    assert [{k: v for k, v in row.items() if k != "time_s"} for row in history(run_dir)] == [
        {k: v for k, v in row.items() if k != "time_s"} for row in history(tmp_path / "whole")
    ]
    assert json.loads((run_dir / "metrics.json").read_text()) == json.loads(
        (tmp_path / "whole" / "metrics.json").read_text()
    )
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"


def test_a_rank_that_stops_answering_times_out(tmp_path: Path) -> None:
    from ddp_workers import pipeline_rank_with_fault

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started = time.perf_counter()
    with pytest.raises(DistributedError, match=r"rank 0 failed: .*parallel.timeout_s"):
        launch(pipeline_rank_with_fault, ("demo-signal", [*FAST, "parallel.timeout_s=3"], str(run_dir), "hang"), 2)
    assert time.perf_counter() - started < 90  # rank 1 sleeps 300 s: the timeout ended the run


def test_cli_nproc(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    def pipeline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "sciconv", *args],
            env=subprocess_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = pipeline("run", "demo-signal", *FAST, "train.epochs=2", "--nproc", "2", "--run-dir", "ddp")
    assert done.returncode == 0, done.stderr
    assert f"run directory: {tmp_path / 'ddp'}" in done.stdout or "run directory: ddp" in done.stdout
    assert "test.accuracy" in done.stdout
    assert "Traceback" not in done.stderr and "torch.distributed" not in done.stderr

    bad = pipeline("run", "demo-signal", "train.epochs=0", "--nproc", "2", "--run-dir", "bad")
    assert bad.returncode == 2 and "train.epochs" in bad.stderr
    assert not (tmp_path / "bad").exists()  # refused before any process started or folder was made

    inside = dict(subprocess_env, WORLD_SIZE="2", RANK="0")
    nested = subprocess.run(
        [sys.executable, "-m", "sciconv", "run", "demo-signal", "--nproc", "2"],
        env=inside,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert nested.returncode == 2 and "already started" in nested.stderr


def test_torchrun_runs_the_cli(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    """What the README's multi-machine command does, on one machine: torchrun starts `python -m sciconv`."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "sciconv", "run", "demo-signal", *FAST, "train.epochs=2", "--run-dir", str(tmp_path / "run")]
    done = subprocess.run(command, env=subprocess_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("run directory:") == 1  # rank 0 reports
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "completed" and status["distributed"]["world_size"] == 2


def test_models_with_unused_parameters_need_the_setting() -> None:
    from ddp_workers import fit_with_an_unused_branch

    with pytest.raises(DistributedError, match=r"ConfigError: .*train.find_unused_parameters=true"):
        launch(fit_with_an_unused_branch, (False,), 2)
    losses = launch(fit_with_an_unused_branch, (True,), 2)
    assert losses[0] == losses[1] > 0  # reduced over the ranks
