"""Time per sample of E-3DSNN on sciconv's sparse convolutions against its dense-voxel twin (the same weights on
dense grids with ``torch.nn.functional.conv3d``), forward and training step, in one run, on simulated shapes.

For each voxel size and number of points: shapes of the simulator (:mod:`sciconv_e3dsnn.shape_simulator`) are
written in the ModelNet layout, sampled with the real reader, normalised to the unit sphere and grid-sampled;
:func:`sciconv_e3dsnn.timing.time_sparse_and_dense` then times each batch sparse then dense, side by side (the
sparse forward includes building its rulebooks; the dense side's grids are built beforehand). The network is the T
preset, untrained (timing does not depend on the weights: the active sites are fixed by the coordinates). Dense
grids too large for ``--max-dense-gb`` are not timed.

The machine is shared and noisy: read the ratios (dense / sparse), and compare numbers of the same run.

Run:  .venv/bin/python benchmarks/e3dsnn_sparse_dense.py [--voxel 0.05 0.03 0.02] [--points 1024 4096]
      [--batch 8] [--batches 3] [--threads 2] [--json e3dsnn.json]
      .venv/bin/python benchmarks/e3dsnn_sparse_dense.py --quick     (smoke mode: one small configuration)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def clouds(n: int, n_points: int, seed: int = 0) -> np.ndarray:
    """``n`` simulated shapes of every class, sampled and normalised. Shapes: -> (n, n_points, 6) float32."""
    from sciconv_e3dsnn.modelnet_io import read_shape
    from sciconv_e3dsnn.shape_simulator import SHAPE_CLASSES, write_modelnet
    from sciconv_e3dsnn.voxels import normalise_to_unit_sphere

    with tempfile.TemporaryDirectory() as tmp:
        per_class = -(-n // len(SHAPE_CLASSES))
        root = write_modelnet(Path(tmp) / "shapes", list(SHAPE_CLASSES), n_train=per_class, n_test=0, seed=seed)
        paths = sorted(root.rglob("*.off"))
        order = np.random.default_rng(seed).permutation(len(paths))[:n]
        points = np.stack([read_shape(paths[i], n_points, int(i)) for i in order])
    return normalise_to_unit_sphere(points)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voxel", type=float, nargs="+", default=[0.05, 0.03, 0.02])
    parser.add_argument("--points", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-dense-gb", type=float, default=8.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.voxel, args.points, args.batch, args.batches = [0.1], [256], 2, 1

    import torch

    from sciconv.spec import DataSpec
    from sciconv_e3dsnn.models.e3dsnn import E3DSNN
    from sciconv_e3dsnn.timing import time_sparse_and_dense

    torch.set_num_threads(args.threads)
    spec = DataSpec((1, 6), 40, task_type="classification", classes=tuple(f"c{i}" for i in range(40)))
    rows = []
    for n_points in args.points:
        data = clouds(args.batch * args.batches, n_points)
        for voxel in args.voxel:
            torch.manual_seed(0)
            model = E3DSNN(spec, preset="T", voxel_size=voxel)
            t = time_sparse_and_dense(model, data, args.batches, args.batch, max_dense_gb=args.max_dense_gb)
            m = t.metrics()
            row = {
                "points": n_points,
                "voxel": voxel,
                "grid": list(t.grid),
                "voxels_per_cloud": round(t.sites_per_sample),
                "occupancy_pct": 100 * t.sites_per_sample / (t.grid[0] * t.grid[1] * t.grid[2]),
                **{k: m[k] for k in m},
            }
            rows.append(row)
            print(
                f"points {n_points:>6} voxel {voxel:<5g} dense grid {'x'.join(map(str, t.grid)):>11} "
                f"voxels/cloud {row['voxels_per_cloud']:>6} "
                f"| forward ms/sample sparse {m['sparse.ms_per_sample']:8.2f} dense {m['dense.ms_per_sample']:9.2f} "
                f"ratio {m['sparse.speedup']:6.1f}x | train step sparse {m['sparse.train_ms_per_sample']:8.2f} "
                f"dense {m['dense.train_ms_per_sample']:9.2f} ratio {m['sparse.train_speedup']:6.1f}x",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
