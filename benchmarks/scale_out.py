"""Scaling out on this machine: DDP ranks against one process, joblib workers against serial jobs.

Two measurements, each side by side in one run, the sides alternating ``--rounds`` times so that machine
noise hits both alike; medians, stated as ratios (> 1: the parallel side is faster).

* **DDP, 1 -> 2 processes**: the ``bci-ssvep`` pipeline (simulated Benchmark subjects; stage 1 on all
  subjects, stage 2 per subject, FBCCA and eTRCA) run by ``pipeline run`` as a single process (torch using
  every core, and restricted to one thread: what one rank has) and with ``--nproc 2`` (two gloo ranks, a
  core each), with the same global batch.
  Reported: wall time of the whole command (process start-up included) and the median stage-1 epoch time
  from ``history.csv`` (the part DDP parallelises).
* **joblib, per-subject fine-tuning**: the stage-2 jobs of ``bci-ssvep`` (one per subject: the global
  model fine-tuned full-batch on the subject's training blocks, then its test block predicted), run by
  :func:`sciconv.parallel.run_jobs` with ``n_jobs=1`` (one job at a time, torch using every core) and with
  ``n_jobs=2`` (two loky workers, a core each). The worker pool is started by a short warm-up call first
  (joblib keeps it between calls, as it does within a run).

Run (about 6 minutes with the defaults):

    .venv/bin/python benchmarks/scale_out.py --rounds 2
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DDP_OVERRIDES = [
    "dataset.params.n_subjects=8",
    "task.params.windows=[0.4]",
    "task.params.test_blocks=[0]",
    "train.epochs=20",
    "task.params.stage2_epochs=20",
    "train.progress=false",
]


def run_pipeline(nproc: int, run_dir: Path, threads: int | None = None) -> tuple[float, float]:
    """Wall time of ``pipeline run bci-ssvep`` and its median stage-1 epoch time (seconds); ``threads``
    fixes torch's threads per process (default: a single process uses every core, ranks share them)."""
    command = [sys.executable, "-m", "sciconv", "run", "bci-ssvep", *DDP_OVERRIDES, "--run-dir", str(run_dir)]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    start = time.perf_counter()
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pipeline run failed:\n{done.stderr}")
    with (run_dir / "history.csv").open() as fh:
        epochs = [float(r["time_s"]) for r in csv.DictReader(fh) if r["fit"].endswith("stage1")]
    return wall, statistics.median(epochs[1:])  # the first epoch warms up


def finetune_jobs(n_subjects: int, epochs: int) -> tuple[list, int]:
    """The stage-2 jobs of bci-ssvep's first fold on simulated subjects, and the run seed."""
    import numpy as np
    import torch

    from sciconv import DataSpec
    from sciconv.context import Trainer
    from sciconv.parallel import Job
    from sciconv.pipeline import load_pipeline
    from sciconv_bci_ssvep.filterbank import guney_subbands

    pipe = load_pipeline("bci-ssvep", [f"dataset.params.n_subjects={n_subjects}"])
    dataset, factory, params, task = pipe._build()
    recording = dataset.load().info["recording"]
    meta = recording.epochs.metadata
    x = torch.from_numpy(guney_subbands(recording.window(0.4), recording.sfreq, task.n_subbands))
    y = torch.from_numpy(meta["target"].to_numpy().astype(np.int64))
    block, subject = meta["block"].to_numpy(), meta["subject"].to_numpy()
    spec = DataSpec(
        input_shape=tuple(x.shape[1:]),
        n_outputs=len(recording.class_names),
        task_type="classification",
        classes=recording.class_names,
    )
    params = {**params, "dropout": tuple(task.stage1_dropout)}
    state = factory(spec, **params).state_dict()  # the global model's weights: their values do not change the cost
    settings = pipe.config.train.model_dump()
    trainer = Trainer({**settings, "progress": False, "early_stopping": {"patience": None, "restore_best": False}})
    jobs = []
    for s in dict.fromkeys(subject):
        tr, te = (block != 0) & (subject == s), (block == 0) & (subject == s)
        args = (factory, params, spec, state, (0.6, 0.6), trainer, epochs, x[tr], y[tr], x[te], f"finetune-{s}")
        jobs.append(Job(f"finetune-{s}", args))
    return jobs, pipe.config.train.seed


def time_jobs(jobs: list, seed: int, n_jobs: int) -> float:
    from sciconv.parallel import run_jobs
    from sciconv_bci_ssvep.speller_task import finetune_subject

    start = time.perf_counter()
    run_jobs(finetune_subject, jobs, n_jobs=n_jobs, seed=seed)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--subjects", type=int, default=8, help="subjects of the fine-tuning jobs")
    parser.add_argument("--finetune-epochs", type=int, default=60, help="stage-2 epochs (the default pipeline's)")
    parser.add_argument("--skip-ddp", action="store_true")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, rounds: {args.rounds}")

    if not args.skip_ddp:
        # (processes, threads per process): one process on every core, one on one core, two ranks on one core each
        sides = [(1, None), (1, 1), (2, None)]
        walls: dict[tuple, list[float]] = {side: [] for side in sides}
        epochs: dict[tuple, list[float]] = {side: [] for side in sides}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                for side in sides if r % 2 == 0 else sides[::-1]:
                    wall, epoch = run_pipeline(side[0], Path(tmp) / f"run-{r}-{side[0]}-{side[1]}", side[1])
                    walls[side].append(wall)
                    epochs[side].append(epoch)
                    print(f"  round {r}, {side}: wall {wall:.1f} s, stage-1 epoch {epoch * 1e3:.0f} ms")
        wall = {side: statistics.median(v) for side, v in walls.items()}
        epoch = {side: statistics.median(v) for side, v in epochs.items()}
        print("\nDDP, bci-ssvep (" + " ".join(DDP_OVERRIDES[:-1]) + ")")
        print("| | 1 process, all cores | 1 process, 1 thread | 2 processes (gloo), 1 thread each | 2 vs 1 process |")
        print("|---|---|---|---|---|")
        a, b, c = sides
        print(
            f"| whole run, wall | {wall[a]:.1f} s | {wall[b]:.1f} s | {wall[c]:.1f} s | "
            f"{wall[a] / wall[c]:.2f}x ({wall[b] / wall[c]:.2f}x at 1 thread) |"
        )
        print(
            f"| stage-1 epoch, median | {epoch[a] * 1e3:.0f} ms | {epoch[b] * 1e3:.0f} ms | {epoch[c] * 1e3:.0f} ms | "
            f"{epoch[a] / epoch[c]:.2f}x ({epoch[b] / epoch[c]:.2f}x at 1 thread) |"
        )

    from sciconv.parallel import Job

    jobs, seed = finetune_jobs(args.subjects, args.finetune_epochs)
    warmup = [Job(job.name, (*job.args[:6], 1, *job.args[7:])) for job in jobs[:2]]
    time_jobs(warmup, seed, 2)
    times: dict[int, list[float]] = {1: [], 2: []}
    for r in range(args.rounds):
        for n_jobs in (1, 2) if r % 2 == 0 else (2, 1):
            times[n_jobs].append(time_jobs(jobs, seed, n_jobs))
            print(f"  round {r}, n_jobs {n_jobs}: {times[n_jobs][-1]:.1f} s")
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    print(f"\njoblib, bci-ssvep stage 2: {len(jobs)} subjects x {args.finetune_epochs} full-batch epochs")
    print("| | n_jobs 1 | n_jobs 2 | speed-up |")
    print("|---|---|---|---|")
    print(f"| all subjects | {t1:.1f} s | {t2:.1f} s | {t1 / t2:.2f}x |")


if __name__ == "__main__":
    main()
