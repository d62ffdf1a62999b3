"""Feature extraction throughput and training-step time of the uatr plugin, side by side in one process.

1. Front-ends: ``--segments`` segments of ``--segment-s`` seconds of simulated ship noise at ``--rate`` Hz
   (:mod:`sciconv_uatr.ship_noise_simulator`) turned into each spectrogram kind (STFT, Mel, Bark, CQT with the
   datasets' defaults: 64 ms frames every 32 ms, 64 bands) and into the classical features (LOFAR + DEMON + MFCC
   statistics), each after a warm-up call. Reported as segments per second and as the real-time factor (seconds
   of audio per second).
2. Networks: one training step (forward, backward, Adam update) at batch ``--batch`` on Mel spectrograms of one
   segment, for the plain ResNet-18, CMoE (8 experts) and RCMoE, interleaved ``--repeats`` times after one
   warm-up round; the medians and the ratio of each mixture to the plain ResNet-18 (the experts' cost).

The machine is shared and noisy: ratios measured side by side are the numbers to read. Run:

    .venv/bin/python benchmarks/uatr_throughput.py --out uatr-throughput-report
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sciconv.spec import DataSpec
from sciconv_uatr.baselines import classical_features
from sciconv_uatr.models.cmoe import CMoEModel
from sciconv_uatr.models.resnet18 import ResNet18
from sciconv_uatr.recordings import cut_segments
from sciconv_uatr.ship_noise_simulator import simulate_deepship
from sciconv_uatr.spectral_features import FEATURE_KINDS, FeatureConfig, spectrogram
from sciconv_uatr.wav_io import read_audio


def _segments(n: int, segment_s: float, rate: int) -> np.ndarray:
    """``n`` segments cut from simulated passages, shape ``(n, segment_s * rate)``."""
    with tempfile.TemporaryDirectory() as tmp:
        duration = max(2 * segment_s, 20.0)
        records = simulate_deepship(
            Path(tmp), ships_per_class=2, recordings_per_ship=1, duration_s=duration, sample_rate=rate, seed=0
        )
        pieces = []
        for r in records:
            path = Path(tmp) / r["class"] / f"{r['id']}.wav"
            signal, _ = read_audio(path, rate)
            pieces.append(cut_segments(signal, rate, segment_s, segment_s / 2))
    out = np.concatenate(pieces)
    return np.resize(out, (n, out.shape[1])).astype(np.float32)


def front_ends(segments: np.ndarray, rate: int, segment_s: float) -> list[dict[str, float]]:
    rows = []
    for kind in (*FEATURE_KINDS, "classical"):

        def extract(x: np.ndarray, kind: str = kind) -> None:
            if kind == "classical":
                classical_features(x, rate)
            else:
                spectrogram(x, FeatureConfig(kind=kind, sample_rate=rate))

        extract(segments[:4])  # warm-up: librosa builds its filters and windows on the first call
        start = time.perf_counter()
        extract(segments)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "front_end": kind,
                "segments_per_s": len(segments) / seconds,
                "realtime_factor": len(segments) * segment_s / seconds,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def training_steps(shape: tuple[int, ...], batch: int, repeats: int) -> dict[str, float]:
    spec = DataSpec(shape, 4, classes=("Cargo", "Passengership", "Tanker", "Tug"))
    torch.manual_seed(0)
    models = {
        "resnet18": ResNet18(spec),
        "cmoe": CMoEModel(spec, experts=8),
        "rcmoe": CMoEModel(spec, experts=8, residual=True),
    }
    optimisers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 4, (batch,))
    times: dict[str, list[float]] = {name: [] for name in models}
    for step in range(repeats + 1):  # the first round warms up
        for name, model in models.items():
            model.train()
            start = time.perf_counter()
            optimisers[name].zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            extra = getattr(model, "auxiliary_loss", lambda: None)()
            (loss if extra is None else loss + extra).backward()
            optimisers[name].step()
            if step:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--segment-s", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("uatr-throughput-report"))
    args = parser.parse_args()
    segments = _segments(args.segments, args.segment_s, args.rate)
    rows = front_ends(segments, args.rate, args.segment_s)
    shape = (1, *spectrogram(segments[:1], FeatureConfig(kind="mel", sample_rate=args.rate)).shape[1:])
    steps = training_steps(shape, args.batch, args.repeats)
    lines = [
        f"# uatr throughput ({torch.get_num_threads()} torch threads)",
        "",
        f"Front-ends on {args.segments} segments of {args.segment_s:g} s at {args.rate} Hz:",
        "",
        "| front-end | segments / s | real-time factor |",
        "|---|---|---|",
        *[f"| {r['front_end']} | {r['segments_per_s']:.1f} | {r['realtime_factor']:.0f}x |" for r in rows],
        "",
        f"One training step, batch {args.batch} of Mel spectrograms {shape} (median of {args.repeats}):",
        "",
        "| network | s / step | ratio to ResNet-18 |",
        "|---|---|---|",
        *[f"| {name} | {t:.3f} | {t / steps['resnet18']:.3f} |" for name, t in steps.items()],
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "uatr_throughput.md").write_text("\n".join(lines) + "\n")
    (args.out / "uatr_throughput.json").write_text(json.dumps({"front_ends": rows, "steps": steps}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
