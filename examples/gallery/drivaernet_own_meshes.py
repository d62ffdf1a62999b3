"""Drag coefficients from your own car meshes (DrivAerNet layout)

An aerodynamicist with a folder of car surface meshes (one STL per design) and a table of drag coefficients from
CFD trains a point-cloud surrogate that predicts Cd from the geometry alone, compares it with the DrivAerNet++
PointNet regressor and the mean, and then predicts the drag of new designs that have no CFD yet. The data are in
the DrivAerNet layout: ``<design id>.stl`` meshes (metres) and a CSV with the columns ``Design`` and
``Average Cd``; the ids' first letter (F, N, E) is the body family, as in DrivAerNet++. Settings: 96 simulated car
bodies (their Cd from the plugin's physics proxy, not CFD), 256 mesh vertices per car, a small edge-convolution
network of our own with k = 8 neighbours, 30 epochs of batch 16; about 20 s on 2 CPU cores.

Run: python examples/gallery/drivaernet_own_meshes.py [OUT_DIR]
(default OUT_DIR: a new gallery-output/drivaernet_own_meshes/<time>; a given OUT_DIR must be new or empty)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib
import open3d as o3d
import pandas as pd
import torch
from torch import nn

import sciconv
from sciconv_drivaernet.car_body_simulator import iter_designs

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)

# %%
# Your data, in your field's format
# ---------------------------------
# A folder of STL surface meshes, one per design, and the CFD results as a CSV keyed by design id: exactly what a
# DrivAerNet download (or your own parametric study) looks like on disk. Here the car bodies come from the
# plugin's simulator (fastback, notchback and estateback bodies with wheels, mirrors and an underbody), written
# with open3d and pandas as your CAD export and post-processing would. Without split lists in the folder the
# plugin makes a seeded 70 / 15 / 15 train / validation / test split of the designs.


def write_designs(root: Path, n_designs: int, seed: int, with_cd: bool) -> Path:
    """Write ``n_designs`` simulated cars as ``root/stl/<design id>.stl`` (+ ``root/drag_coefficients.csv``)."""
    (root / "stl").mkdir(parents=True, exist_ok=True)
    rows = []
    for car in iter_designs(n_designs, seed=seed):
        mesh = o3d.geometry.TriangleMesh(
            o3d.utility.Vector3dVector(car.mesh.vertices), o3d.utility.Vector3iVector(car.mesh.triangles)
        )
        mesh.compute_triangle_normals()  # STL stores one normal per triangle
        o3d.io.write_triangle_mesh(str(root / "stl" / f"{car.design_id}.stl"), mesh)
        rows.append({"Design": car.design_id, "Average Cd": round(car.cd, 5)})
    if with_cd:
        pd.DataFrame(rows).to_csv(root / "drag_coefficients.csv", index=False)
    return root


root = write_designs(OUT / "data" / "my_cars", n_designs=96, seed=0, with_cd=True)
meshes = sorted((root / "stl").glob("*.stl"))
first = o3d.io.read_triangle_mesh(str(meshes[0]))
print(
    f"{root}: {len(meshes)} STL meshes ({meshes[0].name}: {len(first.triangles)} triangles, "
    f"{first.get_axis_aligned_bounding_box().get_extent().round(2)} m)"
)
print(pd.read_csv(root / "drag_coefficients.csv").head(3).to_string(index=False))

# The `drivaernet` pipeline reads such a folder (the published v1 protocol); we shrink it to run in seconds:
# 256 mesh vertices per car instead of 5000, a slim PointNet, 30 short epochs at a higher learning rate with a
# cosine schedule, and the drag regressed as a z-score over the training designs.
pipe = sciconv.load_pipeline(
    "drivaernet",
    {
        "dataset.params.root": str(root),
        "dataset.params.n_points": 256,
        "task.params.methods": ["regdgcnn", "pointnet", "mean"],
        "task.params.pointnet": {"channels": [16, 32, 32, 32, 32], "emb_dims": 32, "head": [32, 16, 16, 8]},
        "task.params.standardise_targets": True,
        "train.epochs": 30,
        "train.batch_size": 16,
        "train.lr": 3.0e-3,
        "train.scheduler": {"name": "cosine", "min_lr": 1.0e-5},
        "train.progress": False,
    },
)

# %%
# Your network
# ------------
# A network of your own: one edge convolution (each point looks at its k nearest neighbours, as in the dynamic
# graph CNN of DrivAerNet), a per-point layer, max and mean pooling over the car, and a small regression head.
# The task gives it a batch of clouds (B, 3, N) (x, y, z of N points, min-max scaled per car) and wants
# (B, 1): the drag coefficient (as a z-score over the training designs). It takes the place of the pipeline's
# RegDGCNN, so its metrics are the task's `regdgcnn.*` keys.


class MyNet(nn.Module):
    """Edge convolution on a k-nearest-neighbour graph, then pooling and an MLP: (B, 3, N) -> (B, n_outputs)."""

    def __init__(self, spec: sciconv.DataSpec, k: int = 8, width: int = 32) -> None:
        super().__init__()
        self.k = k
        channels = spec.input_shape[0]  # 3 coordinates
        self.edge = nn.Sequential(nn.Conv2d(2 * channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.GELU())
        self.point = nn.Sequential(nn.Conv1d(width, 2 * width, 1, bias=False), nn.BatchNorm1d(2 * width), nn.GELU())
        self.head = nn.Sequential(nn.Linear(4 * width, width), nn.GELU(), nn.Linear(width, spec.n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        points = x.transpose(1, 2)  # (B, N, 3)
        neighbours = torch.cdist(points, points).topk(self.k, largest=False).indices  # (B, N, k)
        near = points[torch.arange(len(points))[:, None, None], neighbours]  # (B, N, k, 3)
        centre = points[:, :, None].expand_as(near)
        edges = torch.cat([near - centre, centre], dim=-1).permute(0, 3, 1, 2)  # (B, 6, N, k)
        h = self.point(self.edge(edges).amax(dim=-1))  # (B, 2 width, N)
        return self.head(torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1))


pipe.model = MyNet
pipe.config.model.params = {"k": 8, "width": 32}

# %%
# Run
# ---
# Trains your network and the PointNet on the training designs, keeps the epoch with the lowest validation loss,
# and scores every method on the test designs.
result = pipe.run(run_dir=OUT / "run")

# %%
# Read the metrics
# ----------------
# On the test designs: R² (1 is perfect, 0 is no better than predicting the mean Cd), the mean and the largest
# absolute error of Cd (x 10,000 for drag counts); per body family too (`regdgcnn.mae.fastback`, ...).
# `report.md` in the run folder puts them beside the published DrivAerNet numbers, with a scatter plot per family
# and the protocol. With a hundred designs and 30 short epochs expect a modest R²; the plugin's README reports
# what 500 designs give.
m = result.metrics
for method, label in (("regdgcnn", "MyNet"), ("pointnet", "PointNet"), ("mean", "mean")):
    r2, mae, max_ae = (m[f"{method}.{key}"] for key in ("r2", "mae", "max_ae"))
    print(f"{label:>8}: R² {r2:6.3f}   MAE {mae:.4f}   max AE {max_ae:.4f}")
print(f"report: {result.run_dir / 'report.md'}")

# %%
# One plot
# --------
# Predicted against true Cd of the test designs, one colour per body family: the usual check of a drag
# surrogate. `split="test"` applies the finished run to its own test designs (reproducing its metrics).
test = sciconv.load_run(result.run_dir).predict(split="test", model=MyNet).tables["drag"]
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for family, rows in test.groupby("family"):
    ax.scatter(rows["cd"], rows["regdgcnn"], label=family)
limits = [test[["cd", "regdgcnn"]].min().min() - 0.005, test[["cd", "regdgcnn"]].max().max() + 0.005]
ax.plot(limits, limits, "k--", lw=1, label="perfect")
ax.set(xlabel="true Cd", ylabel="predicted Cd (MyNet)", title="Test designs", xlim=limits, ylim=limits)
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "drivaernet_own_meshes.png", dpi=120)
plt.close(fig)

# %%
# New data
# --------
# New designs, meshes only (no CFD yet): the folder has no coefficient CSV, so the plugin reads them as
# unlabelled designs. The finished run applies its trained networks with its own point sampling and
# normalisation; `model=MyNet` because the run's network was defined in this script. The predictions (a CSV per
# table, and a short report) are written to OUT/predictions.
new_root = write_designs(OUT / "new_data" / "new_cars", n_designs=6, seed=1, with_cd=False)
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root)}, out=OUT / "predictions", model=MyNet
)
print(prediction.tables["drag"].round(4).to_string(index=False))
print(f"predictions written to {prediction.out_dir}")
best = prediction.tables["drag"].sort_values("regdgcnn").iloc[0]
print(f"lowest predicted drag (MyNet): {best['design_id']}, Cd {best['regdgcnn']:.3f}")
