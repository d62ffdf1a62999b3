"""Dense convolution backends side by side, and how close ``auto`` comes to the best of them.

Two phases in one run:

1. *tune*: ``pipeline bench-conv``'s measurement (:func:`sciconv.conv.tuning.tune`) on the default grid and
   on the convolutions of the pipelines named by ``--pipelines``, into ``OUT/conv-auto.json`` (the user's own
   cache is not touched);
2. *evaluate*: every shape measured again, now with ``auto`` (that table) and ``auto`` with its built-in
   defaults (no cache) beside ``torch``, ``fft`` and ``im2win``, interleaved, medians; plus held-out shapes
   that were not tuned on (``auto`` decides those by its fitted crossovers).

Each row gives the median time of one call (``infer``: forward under ``no_grad``; ``train``: forward and
backward), the fastest single backend, and ``auto`` / best (1.00 = as fast as the best; the target is at most
1.05 on every benchmarked shape). Writes ``OUT/conv.md`` (the table) and ``OUT/conv.png`` (the plot). Run:

    .venv/bin/python benchmarks/conv.py --out conv-report
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sciconv.conv import get_backend
from sciconv.conv.auto import AutoBackend
from sciconv.conv.signature import ConvCall
from sciconv.conv.tuning import Measurement, default_grid, measure_call, shape_series, tune
from sciconv.tracing import trace_pipeline

SINGLE = ("torch", "fft", "im2win")


def held_out_grid() -> list[ConvCall]:
    """Shapes not in the tuning grid: other lengths, channel counts and kernel sizes."""
    return [
        *shape_series(1, 8, 32, (4096,), (17, 65, 257, 1025)),
        *shape_series(2, 4, 32, (48,), (5, 11, 21)),
        *shape_series(3, 2, 4, (16,), (3, 7)),
    ]


def _row(m: Measurement, origin: str) -> dict[str, object]:
    best = min((n for n in SINGLE if n in m.times and n not in m.incorrect), key=m.times.__getitem__)
    return {
        "origin": origin,
        "key": m.call.key,
        "times": m.times,
        "best": best,
        "auto": m.times["auto"] / m.times[best],
        "auto_default": m.times["auto (defaults)"] / m.times[best],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="conv-report", help="folder for conv-auto.json, conv.md and conv.png")
    parser.add_argument("--pipelines", nargs="*", default=["demo-signal", "bci-ssvep"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per backend and shape")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds of cheap calls timed per backend")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    calls = default_grid()
    origins = {call.key: "grid" for call in calls}
    for name in args.pipelines:
        for call in trace_pipeline(name):
            origins.setdefault(call.key, name)
            calls.append(call)
    singles = {name: get_backend(name) for name in SINGLE}
    print(f"tuning on {len(origins)} signatures ...", file=sys.stderr)
    table = tune(calls, singles, repeats=args.repeats, budget_s=args.budget, min_time_s=args.min_time)
    table.save(out / "conv-auto.json")

    backends = {**singles, "auto": AutoBackend(table), "auto (defaults)": AutoBackend(use_cache=False)}
    held = held_out_grid()
    rows = []
    seen: set[str] = set()
    for call in [*calls, *held]:
        if call.key in seen:
            continue
        seen.add(call.key)
        m = measure_call(call, backends, repeats=args.repeats, budget_s=args.budget, min_time_s=args.min_time)
        rows.append(_row(m, origins.get(call.key, "held-out")))
        r = rows[-1]
        print(f"{call.key}: best {r['best']}, auto/best {r['auto']:.2f}", file=sys.stderr)

    names = [*SINGLE, "auto", "auto (defaults)"]
    lines = [
        "| shape | origin | " + " | ".join(f"{n} ms" for n in names) + " | best | auto/best | defaults/best |",
        "|---|---|" + "---|" * (len(names) + 3),
    ]
    for r in rows:
        times = r["times"]
        cells = " | ".join(f"{times[n] * 1e3:.3g}" if n in times else "x" for n in names)  # type: ignore[operator]
        lines.append(
            f"| `{r['key']}` | {r['origin']} | {cells} | {r['best']} | {r['auto']:.2f} | {r['auto_default']:.2f} |"
        )
    tuned = [r for r in rows if r["origin"] != "held-out"]
    summary = []
    for label, subset in (
        ("benchmarked (tuned) shapes", tuned),
        ("held-out shapes", [r for r in rows if r not in tuned]),
    ):
        ratios = [float(r["auto"]) for r in subset]  # type: ignore[arg-type]
        defaults = [float(r["auto_default"]) for r in subset]  # type: ignore[arg-type]
        summary.append(
            f"- {label} ({len(subset)}): auto/best median {statistics.median(ratios):.3f}, max {max(ratios):.3f}, "
            f"{sum(x > 1.05 for x in ratios)} above 1.05; auto (defaults)/best median "
            f"{statistics.median(defaults):.3f}, max {max(defaults):.3f}"
        )
    crossover = [
        f"- {device} {op} {kind}: "
        + ", ".join(f"{mode} {'-' if v is None else v}" for mode, v in sorted(modes.items()))
        for device, ops in sorted(table.crossover.items())
        for op, kinds in sorted(ops.items())
        for kind, modes in sorted(kinds.items())
    ]
    text = "\n".join(
        [
            "# Dense conv backends and auto",
            "",
            *summary,
            "",
            "Fitted fft crossovers (fewest kernel taps at which fft beats torch):",
            *crossover,
            "",
            *lines,
            "",
        ]
    )
    (out / "conv.md").write_text(text)
    print(text)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, len(rows) * 0.14), 8), sharex=True)
    xs = range(len(rows))
    for name, marker in zip(SINGLE, "os^", strict=True):
        ys = [r["times"].get(name, float("nan")) / r["times"]["torch"] for r in rows]  # type: ignore[union-attr]
        ax1.scatter(xs, ys, marker=marker, s=14, label=name)
    ax1.set_yscale("log")
    ax1.axhline(1.0, color="grey", lw=0.8)
    ax1.set_ylabel("time / torch")
    ax1.legend(fontsize=8)
    ax2.scatter(xs, [r["auto"] for r in rows], s=14, label="auto (tuned)")
    ax2.scatter(xs, [r["auto_default"] for r in rows], s=10, marker="x", label="auto (defaults)")
    ax2.axhline(1.05, color="red", lw=0.8, ls="--", label="1.05")
    ax2.axvline(len(tuned) - 0.5, color="grey", lw=0.8, ls=":")
    ax2.set_ylabel("time / best single backend")
    ax2.set_xlabel("signature (tuned grid and pipeline layers | held-out)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "conv.png", dpi=120)
    print(f"wrote {out / 'conv.md'} and {out / 'conv.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
