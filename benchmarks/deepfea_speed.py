"""The NEP net's rollout against the finite element solver it replaces, side by side in one process.

For each grid (default 9 x 9, the paper's 2D default, and 33 x 33), ``--cases`` load cases are drawn as the
``deepfea`` pipeline draws them (:func:`sciconv_deepfea.fea_simulator.draw_case`, ``--steps`` Newmark steps) and:

- ``solver``: :func:`sciconv_deepfea.fea_simulator.solve_case` per case (scikit-fem assembly, one sparse LU
  factorisation, the Newmark steps, the element stresses and strains), median seconds per case;
- ``nep``: the NEP net's free-running rollout of the same length (eval mode, no gradients, torch's threads on the
  CPU; timed by the task's :func:`~sciconv_deepfea.rollout_task.time_rollout`, best of ``--repeats``) with the
  paper's channels [64, 128, 256] and the default pipeline's [16, 32, 64], one case at a time and all cases in one
  batch. Untrained weights: the cost does not depend on their values.

Reported: seconds per case and the speed-up (solver time over rollout time). The machine is shared and noisy: the
ratios, measured side by side, are the numbers to read. Run:

    .venv/bin/python benchmarks/deepfea_speed.py --out deepfea-speed-report
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sciconv.spec import DataSpec
from sciconv_deepfea.fea_simulator import draw_case, solve_case
from sciconv_deepfea.models.nep_net import NEPNet
from sciconv_deepfea.rollout_task import time_rollout


def measure(grid: tuple[int, int], channels: list[list[int]], args: argparse.Namespace) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    cases = [draw_case(rng, grid=grid, n_steps=args.steps) for _ in range(args.cases)]
    solve_case(cases[0])  # warm-up (imports, first assembly)
    solver = []
    inputs = []
    for case in cases:
        start = time.perf_counter()
        out = solve_case(case)
        solver.append(time.perf_counter() - start)
        inputs.append(out["dis_in"])
    solver_s = statistics.median(solver)
    x = torch.from_numpy(np.stack(inputs)).float()  # unscaled: the cost does not depend on the values
    rows = [{"grid": f"{grid[0]}x{grid[1]}", "method": "solver", "s_per_case": solver_s, "speedup": 1.0}]
    for widths in channels:
        spec = DataSpec(
            tuple(x.shape[1:]),
            2 * grid[0] * grid[1] + 2 * (grid[0] - 1) * (grid[1] - 1),
            task_type="forecasting",
            extra={"dim": 2, "node_channels": 2},
        )
        net = NEPNet(spec, channels=widths).eval()
        with torch.no_grad():
            net(x[:1])  # warm-up
        single, batched = time_rollout(net, x, repeats=args.repeats)  # the task's own timing: best of the repeats
        for mode, s in (("one case", single), (f"batch of {len(x)}", batched)):
            rows.append(
                {
                    "grid": f"{grid[0]}x{grid[1]}",
                    "method": f"nep {widths}, {mode}",
                    "s_per_case": s,
                    "speedup": solver_s / s,
                }
            )
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[9, 33])
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("deepfea-speed-report"))
    args = parser.parse_args()
    rows = []
    for n in args.grids:
        rows += measure((n, n), [[64, 128, 256], [16, 32, 64]], args)
    lines = [
        f"# NEP rollout against scikit-fem ({torch.get_num_threads()} torch threads, {args.steps} steps)",
        "",
        "| grid | method | s per case | speed-up over the solver |",
        "|---|---|---|---|",
        *[f"| {r['grid']} | {r['method']} | {r['s_per_case']:.5f} | {r['speedup']:.2f} |" for r in rows],
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deepfea_speed.md").write_text("\n".join(lines) + "\n")
    (args.out / "deepfea_speed.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
