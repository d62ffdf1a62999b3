"""A 2 x 2 sweep with its points in parallel, against the same four runs one after the other.

The sweep is ``demo-signal`` over ``train.lr`` x ``model.params.n_filters`` (2 x 2) with ``parallel.n_jobs=2``:
two points at a time, each in its own worker process with one torch thread. The alternative is what a user
does without sweeps: the same four runs with ``sciconv.run`` in sequence, in this process, with the
machine's threads. The sweep with ``parallel.n_jobs=1`` (its points one after the other, with the machine's
threads) shows what the sweep itself costs. The three run in alternation, ``--repeats`` times, with the fixed
overrides given (default: the pipeline's defaults); the report gives each wall time, the ratios per repeat and
their medians. It also checks the metrics per point: the sweep with ``n_jobs=1`` must equal the runs in
sequence exactly (same threads), and the parallel sweep's largest difference from them is reported (its points
train with one thread each, and CPU kernels sum in a thread-count-dependent order). The parallel sweep's time
includes starting its worker processes. Writes ``OUT/sweep_parallel.md``. Run:

    .venv/bin/python benchmarks/sweep_parallel.py --out sweep-report [--repeats 3] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

import sciconv

AXES = {"train.lr": [0.001, 0.003], "model.params.n_filters": [8, 16]}


def sequential(root: Path, fixed: dict[str, object]) -> tuple[float, list[dict[str, float]]]:
    """The four runs one after the other; wall seconds and each run's metrics, in grid order."""
    started = time.perf_counter()
    metrics = []
    for i, lr in enumerate(AXES["train.lr"]):
        for j, filters in enumerate(AXES["model.params.n_filters"]):
            overrides = {**fixed, "train.lr": lr, "model.params.n_filters": filters}
            result = sciconv.run("demo-signal", overrides, run_dir=root / f"run-{i}{j}")
            metrics.append(result.metrics)
    return time.perf_counter() - started, metrics


def swept(root: Path, fixed: dict[str, object], n_jobs: int) -> tuple[float, list[dict[str, float]]]:
    """The 2 x 2 sweep with ``n_jobs`` points at a time; wall seconds and each point's metrics, in grid order."""
    started = time.perf_counter()
    overrides = {**fixed, "parallel.n_jobs": n_jobs}
    result = sciconv.sweep("demo-signal", AXES, overrides, sweep_dir=root / "sweep").check()
    seconds = time.perf_counter() - started
    keys = [k for k in result.rows[0] if k.startswith(("test.", "baseline."))]
    return seconds, [{k: row[k] for k in keys} for row in result.rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sweep-report"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="fixed overrides of every run")
    args = parser.parse_args()
    fixed: dict[str, object] = {"train.progress": False}
    for text in args.overrides:
        key, _, value = text.partition("=")
        fixed[key] = yaml.safe_load(value)
    rows = []
    worst, serial_equal = 0.0, True
    with tempfile.TemporaryDirectory(prefix="sciconv-sweep-bench-") as tmp:
        for repeat in range(args.repeats):
            seq_s, seq_metrics = sequential(Path(tmp) / f"seq-{repeat}", fixed)
            one_s, one_metrics = swept(Path(tmp) / f"one-{repeat}", fixed, 1)
            par_s, par_metrics = swept(Path(tmp) / f"par-{repeat}", fixed, 2)
            for a, b, c in zip(seq_metrics, one_metrics, par_metrics, strict=True):
                serial_equal &= all(a[k] == b[k] for k in b)
                worst = max([worst, *(abs(a[k] - c[k]) for k in c)])
            rows.append((repeat + 1, seq_s, one_s, par_s))
            print(
                f"repeat {repeat + 1}: in sequence {seq_s:.1f} s, sweep n_jobs=1 {one_s:.1f} s, n_jobs=2 {par_s:.1f} s"
            )
    speedup = statistics.median(s / p for _, s, _, p in rows)
    overhead = statistics.median(o / s for _, s, o, _ in rows)
    lines = [
        "# A 2 x 2 sweep with n_jobs=2 against the same four runs in sequence",
        "",
        f"demo-signal, {AXES}, fixed {fixed}; {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| repeat | four runs in sequence (s) | sweep, n_jobs=1 (s) | sweep, n_jobs=2 (s) | speed-up of n_jobs=2 |",
        "|---|---|---|---|---|",
        *(f"| {r} | {s:.1f} | {o:.1f} | {p:.1f} | {s / p:.2f}x |" for r, s, o, p in rows),
        "",
        f"Median speed-up of the parallel sweep over the runs in sequence: **{speedup:.2f}x**; the sweep with "
        f"n_jobs=1 takes {overhead:.2f}x the time of the runs in sequence. Metrics of the sweep with n_jobs=1 equal "
        f"to the runs in sequence: {'yes, every key of every point' if serial_equal else 'NO'}. Largest difference "
        f"in a test or baseline metric between the parallel sweep (one thread per point) and the runs in sequence: "
        f"{worst:.3g}.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep_parallel.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
