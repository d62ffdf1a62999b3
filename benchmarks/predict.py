"""``pipeline predict`` against the run it applies: exact reproduction and time, for every registered pipeline.

For each pipeline (on its registered ``tiny`` overrides, or ``--full`` for its defaults) the benchmark runs it
once in this process, then applies the finished run to its own test split three times
(``sciconv.load_run(dir).predict(split="test")``, nothing written) and reports:

- whether every metric predict reports equals the run's ``metrics.json`` exactly (and how many keys);
- predict's time (median of 3, from loading the data to the last prediction) against the run's whole wall
  time (training included) and their ratio.

The run's test phase alone is not separated here (it is interleaved with training in most tasks); the plugins'
own notes in the issue's closing note give it where it was timed. Writes ``OUT/predict.md``. Run:

    .venv/bin/python benchmarks/predict.py --out predict-report [--full] [PIPELINE ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import sciconv
from sciconv.registry import get_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipelines", nargs="*", help="pipelines to measure (default: every registered one)")
    parser.add_argument("--out", type=Path, default=Path("predict-report"))
    parser.add_argument("--full", action="store_true", help="the pipelines' defaults instead of their tiny overrides")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="PIPELINE=PATH",
        help="dataset.params.root for a real-data pipeline (e.g. bci-ssvep-exo=../shared/data/ssvep-exoskeleton)",
    )
    args = parser.parse_args()
    registry = get_registry()
    names = args.pipelines or registry.names("pipelines")
    roots = dict(item.split("=", 1) for item in args.data)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sciconv-predict-bench-") as tmp:
        for name in names:
            entry = registry.entry("pipelines", name)
            overrides = {} if args.full else dict(entry.tiny or {})
            if name in roots:
                overrides["dataset.params.root"] = str(Path(roots[name]).resolve())
            run_dir = Path(tmp) / name
            try:
                result = sciconv.run(name, {**overrides, "train.progress": False}, run_dir=run_dir)
            except sciconv.SciconvError as exc:  # a real-data pipeline without its data here
                rows.append(f"| {name} | not run here: {str(exc)[:90]} | | | |")
                continue
            wall = json.loads((run_dir / "status.json").read_text())["wall_time_s"]
            finished = sciconv.load_run(run_dir)
            times, metrics = [], {}
            for _ in range(3):
                prediction = finished.predict(split="test", log=lambda message: None)
                times.append(prediction.seconds)
                metrics = prediction.metrics
            same = all(value == result.metrics.get(key) for key, value in metrics.items())
            seconds = statistics.median(times)
            rows.append(
                f"| {name} | {'yes' if same and metrics else 'NO'} ({len(metrics)} keys) | {wall:.2f} s | "
                f"{seconds:.2f} s | {seconds / wall:.2f} |"
            )
            print(rows[-1], flush=True)
    lines = [
        "| pipeline | predict --split test reproduces the run exactly | run (wall) | predict (median of 3) | ratio |",
        "|---|---|---|---|---|",
        *rows,
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "predict.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
