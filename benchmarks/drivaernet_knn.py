"""Time and peak memory of the drivaernet kNN graph and of RegDGCNN, on CPU, in one run.

1. The kNN graph alone (:func:`sciconv_drivaernet.models.knn_graph.knn_edge_index`) on random coordinates
   ``(B, N, 3)``: chunked (at most ``--knn-memory-mb`` MiB of distances at once) against unchunked (the whole
   ``(B, N, N)`` matrix, as the official code), with the ratios chunked / unchunked. ``--knn-batch`` lists the
   batch sizes (the default adds 16 clouds, where the unchunked matrix is 1.6 GB at 5000 points);
2. the whole RegDGCNN forward (eval mode, no grad) and, with ``--modes eval train``, one training step's forward
   and backward (train mode, loss ``mean(out^2)``), for the slim preset (edge_channels [32, 32, 32, 64],
   emb_dims 128, k 16; the drivaernet-drag default) and the published one (DrivAerNet v1: k 40, emb_dims 512,
   widths 256/512/512/1024).

Each configuration runs in a fresh subprocess (this script with ``--worker``): one warm-up call, then the median
of ``--repeats`` timed calls, with ``--threads`` torch threads. Peak memory is the growth of the process's peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) over its value right after the imports, so it
includes the model's weights, the input and the warm-up call, and the allocator's slack; it is what the machine
must have free, not what torch's allocator asked for.

The machine is shared and noisy: read ratios, and compare numbers of the same run.

Run:  .venv/bin/python benchmarks/drivaernet_knn.py [--points 1000 5000] [--batch 2] [--batch-5000-published 1]
      [--modes eval train] [--repeats 3] [--threads 2] [--json drivaernet-knn.json]
      .venv/bin/python benchmarks/drivaernet_knn.py --quick      (smoke mode: 1000 points, slim, one repeat)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "slim": {"k": 16, "emb_dims": 128, "edge_channels": [32, 32, 32, 64]},  # drivaernet-drag's default
    "published": {"k": 40, "emb_dims": 512, "edge_channels": [256, 512, 512, 1024]},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _median_ms(call: Any, repeats: int) -> float:
    call()  # warm-up: oneDNN primitives, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Measure one configuration in this (fresh) process; the result as a JSON-able dict."""
    import torch

    from sciconv.spec import DataSpec
    from sciconv_drivaernet.models.knn_graph import knn_edge_index
    from sciconv_drivaernet.models.regdgcnn import RegDGCNN

    torch.set_num_threads(config["threads"])
    baseline = _peak_mb()
    torch.manual_seed(0)
    b, n = config["batch"], config["points"]
    if config["kind"] == "knn":
        x = torch.randn(b, n, 3)

        def call() -> object:
            return knn_edge_index(x, config["k"], memory_mb=config["memory_mb"], chunked=config["chunked"])

    else:
        spec = DataSpec((3, n), 1, task_type="regression")
        model = RegDGCNN(spec, **PRESETS[config["preset"]], knn_memory_mb=config["memory_mb"])
        x = torch.randn(b, 3, n)
        if config["mode"] == "train":
            model.train()

            def call() -> object:
                model.zero_grad(set_to_none=True)
                out = model(x)
                out.square().mean().backward()
                return out

        else:
            model.eval()

            def call() -> object:
                with torch.no_grad():
                    return model(x)

    ms = _median_ms(call, config["repeats"])
    return {**config, "ms": ms, "peak_growth_mb": _peak_mb() - baseline}


def run_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter; a failed run (out of memory, ...) is reported, not raised."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        error = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {**config, "ms": float("nan"), "peak_growth_mb": float("nan"), "error": error}
    return json.loads(lines[-1])


def _fmt(value: float, digits: int = 1) -> str:
    return "failed" if value != value else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["slim", "published"])
    parser.add_argument("--batch", type=int, default=2, help="clouds per batch of the model runs")
    parser.add_argument(
        "--batch-5000-published", type=int, default=1, help="batch of the published preset at >= 5000 points"
    )
    parser.add_argument("--knn-batch", type=int, nargs="+", default=None, help="kNN batch sizes (default: batch, 16)")
    parser.add_argument("--knn-k", type=int, default=40, help="neighbours of the kNN-alone runs")
    parser.add_argument("--knn-memory-mb", type=float, default=256.0, help="the chunked kNN's budget (MiB)")
    parser.add_argument("--modes", nargs="+", choices=["eval", "train"], default=["eval"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-knn", action="store_true", help="skip the kNN-alone runs")
    parser.add_argument("--no-model", action="store_true", help="skip the model runs")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 1000 points, slim preset, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return
    if args.quick:
        args.points, args.presets, args.repeats = [1000], ["slim"], 1
        args.knn_batch = args.knn_batch or [args.batch]
    knn_batches = args.knn_batch or sorted({args.batch, 16})
    common = {"threads": args.threads, "repeats": args.repeats}

    knn_rows = []
    if not args.no_knn:
        for n in args.points:
            for b in knn_batches:
                pair = {}
                for chunked in (True, False):
                    config = {**common, "kind": "knn", "points": n, "batch": b, "k": min(args.knn_k, n)}
                    config.update(chunked=chunked, memory_mb=args.knn_memory_mb)
                    pair[chunked] = run_worker(config)
                    print(json.dumps(pair[chunked]), file=sys.stderr, flush=True)
                knn_rows.append(
                    {
                        "points": n,
                        "batch": b,
                        "k": pair[True]["k"],
                        "distance_matrix_mb": b * n * n * 4 / 2**20,
                        "chunked": pair[True],
                        "unchunked": pair[False],
                        "time_ratio": pair[True]["ms"] / pair[False]["ms"],
                        "memory_ratio": pair[True]["peak_growth_mb"] / pair[False]["peak_growth_mb"],
                    }
                )

    model_rows = []
    if not args.no_model:
        for n in args.points:
            for preset in args.presets:
                b = args.batch_5000_published if preset == "published" and n >= 5000 else args.batch
                for mode in args.modes:
                    config = {**common, "kind": "model", "points": n, "batch": b, "preset": preset, "mode": mode}
                    config["memory_mb"] = args.knn_memory_mb
                    result = run_worker(config)
                    print(json.dumps(result), file=sys.stderr, flush=True)
                    model_rows.append(result)

    lines = [
        f"# drivaernet kNN and RegDGCNN on CPU ({args.threads} torch threads, median of {args.repeats} after a "
        "warm-up, each configuration in a fresh process)",
        "",
        "Peak memory: growth of the process's peak RSS (getrusage ru_maxrss) over its value after the imports "
        "(input, weights, warm-up included).",
    ]
    if knn_rows:
        lines += [
            "",
            f"kNN graph alone on (B, N, 3) coordinates; chunked: at most {args.knn_memory_mb:g} MiB of distances "
            "at once (the ratio is chunked / unchunked):",
            "",
            "| points | batch | k | full distance matrix (MB) | chunked ms | unchunked ms | time ratio "
            "| chunked peak MB | unchunked peak MB | memory ratio |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in knn_rows:
            c, u = r["chunked"], r["unchunked"]
            lines.append(
                f"| {r['points']} | {r['batch']} | {r['k']} | {r['distance_matrix_mb']:.0f} | {_fmt(c['ms'])} "
                f"| {_fmt(u['ms'])} | {_fmt(r['time_ratio'], 2)} | {_fmt(c['peak_growth_mb'], 0)} "
                f"| {_fmt(u['peak_growth_mb'], 0)} | {_fmt(r['memory_ratio'], 2)} |"
            )
    if model_rows:
        lines += [
            "",
            "RegDGCNN (chunked kNN); eval: forward without grad; train: forward + backward in train mode:",
            "",
            "| points | preset | batch | mode | ms / batch | ms / cloud | peak MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in model_rows:
            lines.append(
                f"| {r['points']} | {r['preset']} | {r['batch']} | {r['mode']} | {_fmt(r['ms'])} "
                f"| {_fmt(r['ms'] / r['batch'])} | {_fmt(r['peak_growth_mb'], 0)} |"
            )
    failed = [r for r in [*model_rows, *(x for r in knn_rows for x in (r["chunked"], r["unchunked"]))] if "error" in r]
    for r in failed:
        lines.append(f"\nfailed: {json.dumps({k: v for k, v in r.items() if k not in ('ms', 'peak_growth_mb')})}")
    print("\n".join(lines))
    if args.json is not None:
        payload = {"threads": args.threads, "repeats": args.repeats, "knn": knn_rows, "model": model_rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
