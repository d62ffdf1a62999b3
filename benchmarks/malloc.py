"""glibc's default malloc against :func:`sciconv.malloc.tune_malloc` on real training steps, side by side.

Each case is a training step (forward, loss, backward, Adam step) timed in a fresh interpreter, once with
glibc's defaults (``SCICONV_MALLOC_TUNING=0``, no ``MALLOC_*`` variables) and once with ``tune_malloc()``
applied at start-up; the two kinds of child process
alternate ``--rounds`` times so that machine noise hits both alike. Cases:

* ``bci-ssvep``, ``demo-signal``: the pipelines' own models (sized as their tasks size them) at their
  training batch sizes, on random input of the model's input shape (timing does not depend on the values);
* ``fft-long-conv``: a depthwise long convolution layer (B 8, C 64, L 8192, K 1025, ``fft`` backend), the
  layer type of long-convolution sequence models;
* ``resnet-3x3``: two 3x3 conv layers of 64 channels at 56 x 56, batch 8 (``torch`` backend), as in ResNet.

The table gives each side's median step time and default / tuned (> 1: tuning is faster). Run:

    .venv/bin/python benchmarks/malloc.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = ("bci-ssvep", "demo-signal", "fft-long-conv", "resnet-3x3")


def _model(case: str, spec_json: str):
    import torch
    from torch import nn

    import sciconv.conv as conv

    if case in ("bci-ssvep", "demo-signal"):
        from sciconv import DataSpec
        from sciconv.pipeline import load_pipeline

        pipe = load_pipeline(case)
        _, factory, params, _ = pipe._build()
        spec = DataSpec(**json.loads(spec_json))
        return factory(spec, **params), torch.randn(pipe.config.train.batch_size, *spec.input_shape), spec.n_outputs
    if case == "fft-long-conv":
        layer = conv.Conv1d(64, 64, 1025, padding="same", groups=64, backend="fft")
        return (
            nn.Sequential(layer, nn.GELU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 4)),
            torch.randn(8, 64, 8192),
            4,
        )
    layers = [conv.Conv2d(64, 64, 3, padding=1, backend="torch"), nn.ReLU(), conv.Conv2d(64, 64, 3, padding=1)]
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers, nn.ReLU(), *head), torch.randn(8, 64, 56, 56), 10


def child(case: str, tuned: bool, steps: int, spec_json: str) -> None:
    if tuned:
        from sciconv.malloc import tune_malloc

        if not tune_malloc():
            raise SystemExit("tune_malloc() was not applied")
    import torch

    torch.manual_seed(0)
    model, x, n_out = _model(case, spec_json)
    y = torch.randint(0, n_out, (x.shape[0],))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    print(json.dumps(statistics.median(times)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="child processes per side and case")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per child (median)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tuned, args.steps, args.spec)
        return
    print(f"training step, median over {args.rounds} alternating processes x {args.steps} steps")
    print(f"{'case':<16} {'default ms':>11} {'tuned ms':>9} {'default/tuned':>14}")
    for case in args.cases:
        spec = "{}"
        if case in ("bci-ssvep", "demo-signal"):  # the task's model spec needs the data: found once, here
            from sciconv.tracing import pipeline_model

            spec = json.dumps(pipeline_model(case)[1].to_dict())
        samples: dict[bool, list[float]] = {False: [], True: []}
        for r in range(args.rounds):
            for tuned in (False, True) if r % 2 == 0 else (True, False):
                cmd = [sys.executable, __file__, "--child", case, "--steps", str(args.steps), "--spec", spec]
                env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
                env["SCICONV_MALLOC_TUNING"] = "1" if tuned else "0"  # sciconv.engine applies it on import
                out = subprocess.run(
                    cmd + (["--tuned"] if tuned else []), check=True, capture_output=True, text=True, env=env
                )
                samples[tuned].append(json.loads(out.stdout.strip().splitlines()[-1]))
        d, t = statistics.median(samples[False]), statistics.median(samples[True])
        print(f"{case:<16} {d * 1e3:>11.2f} {t * 1e3:>9.2f} {d / t:>14.2f}")


if __name__ == "__main__":
    main()
