"""A DeepFEA surrogate of your own transient finite element simulations.

A structural engineer has run a batch of transient finite element simulations (a clamped plate under a
time-varying load) and wants a network that rolls out the whole response of a new load case from its initial state,
boundary conditions and load history, faster than the solver. The simulations are written in the official DeepFEA
layout (Zenodo 10.5281/zenodo.10870936): one numbered folder per case with ``dis_in.npz``, ``dis_out.npz`` and
``effective_out.npz``, and the min/max scaling files at the root, read by the ``deepfea-official`` pipeline.
Settings: 30 plane-stress cases (24 to train, 6 to test) on a 7 x 7 node grid, 8 time steps each; our own ConvGRU
(8 hidden channels) in place of the NEP net, and the frame-CNN baseline, 40 epochs of batches of 4; 6 new cases
to predict; one torch thread. About 10 s of CPU time (the paper trains for 1000 epochs on far more cases).

Run: python examples/gallery/deepfea_own_simulations.py [OUT_DIR]
(default OUT_DIR gallery-output/deepfea_own_simulations/<time>)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import sciconv
from sciconv_deepfea.fea_simulator import draw_case, solve_case

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)
# The networks here are small (8 hidden channels on a 7 x 7 grid): one CPU thread runs them fastest; more threads
# spend their time synchronising over tiny tensors (many times over on a machine shared with other jobs).
torch.set_num_threads(1)
GRID, N_STEPS = (7, 7), 8  # nodes per axis (y, x) and time steps per case


# %%
# 1. Your simulations, in the DeepFEA layout
# ------------------------------------------
# Stand-in for your own solver (Abaqus, FEniCS, ...): the plugin's scikit-fem simulator draws a case (material,
# clamped edges, a load at one node with a random direction and history) and integrates it with Newmark-beta.
# What matters is how its results are saved, one numbered folder per case:
#   dis_in.npz        arr_0 (T, 5, H, W): node x, y at step t (m), nodal load Fx, Fy of step t (N), clamp mask 0/1
#   dis_out.npz       arr_0 (T, 2, H, W): node x, y at step t + 1 (the target of step t)
#   effective_out.npz eff_stress, eff_strain (T, H - 1, W - 1): von Mises stress (Pa) and strain per element
# and at the root the min/max of each quantity, which scale every channel to [-1, 1] for the network.
def my_fe_solver(seed: int, case: int) -> dict[str, np.ndarray]:
    """One transient simulation: the arrays above, float32."""
    return solve_case(draw_case(np.random.default_rng([seed, case]), grid=GRID, n_steps=N_STEPS))


def write_cases(root: Path, seed: int, n_cases: int) -> None:
    """Simulate ``n_cases`` cases and save them as ``root/1/``, ``root/2/``, ... in the official layout."""
    for case in range(1, n_cases + 1):
        out = my_fe_solver(seed, case)
        folder = root / str(case)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "dis_in.npz", arr_0=out["dis_in"])
        np.savez(folder / "dis_out.npz", arr_0=out["dis_out"])
        np.savez(folder / "effective_out.npz", eff_stress=out["eff_stress"], eff_strain=out["eff_strain"])


root = OUT / "data" / "my_simulations"
write_cases(root, seed=0, n_cases=30)

# The scaling files: per coordinate channel over dis_in and dis_out together, per force channel, and one value each
# for stress and strain (the official dataset computes them over its training cases; here over all of them).
cases = sorted(root.iterdir(), key=lambda p: int(p.name))
dis_in = np.stack([np.load(p / "dis_in.npz")["arr_0"] for p in cases])  # (N, T, 5, H, W)
dis_out = np.stack([np.load(p / "dis_out.npz")["arr_0"] for p in cases])  # (N, T, 2, H, W)
stress = np.stack([np.load(p / "effective_out.npz")["eff_stress"] for p in cases])  # (N, T, H - 1, W - 1)
strain = np.stack([np.load(p / "effective_out.npz")["eff_strain"] for p in cases])
coords = np.concatenate([dis_in[:, :, :2], dis_out], axis=1)
per_channel = (0, 1, 3, 4)  # all axes but the channel
ranges = {
    "dis_c": (coords.min(axis=per_channel), coords.max(axis=per_channel)),
    "dis_f": (dis_in[:, :, 2:4].min(axis=per_channel), dis_in[:, :, 2:4].max(axis=per_channel)),
    "eff_stress": (stress.min(keepdims=True).ravel(), stress.max(keepdims=True).ravel()),
    "eff_strain": (strain.min(keepdims=True).ravel(), strain.max(keepdims=True).ravel()),
}
for stem, (lo, hi) in ranges.items():
    np.save(root / f"{stem}_min.npy", lo.astype(np.float32))
    np.save(root / f"{stem}_max.npy", hi.astype(np.float32))
print(f"{len(dis_in)} cases in {root}: {dis_in.shape[1]} steps on a {GRID[0]} x {GRID[1]} node grid")

# deepfea-official reads such a folder (dataset.params.root) with the plugin's reader, which checks every file
# (shapes, NaN, a clamp mask that fixes something) and never unpickles. 20 % of the cases are held out for testing.
pipe = sciconv.load_pipeline(
    "deepfea-official",
    {
        "dataset.params.root": str(root),
        "task.params.cnn_width": 8,  # the frame-CNN baseline, small
        "task.params.cnn_depth": 2,
        "task.params.tf_period": 5,  # teacher forcing 0.7^k after k periods of 5 epochs
        "task.params.timing_cases": 2,  # cases the solver is timed on, for the speed-up
        "train.epochs": 40,
        "train.batch_size": 4,
        "train.lr": 1e-2,
        "train.checkpoint_every": 40,  # one checkpoint at the end
        "train.progress": False,
    },
)


# %%
# 2. Your network
# ---------------
# The task trains the pipeline's model as the "nep" method: it gets the whole sequence of input frames x
# (B, T, 5, H, W), scaled to [-1, 1], and returns each step's next state flattened, (B, T, 2 * H * W + 2 *
# (H - 1) * (W - 1)): the node coordinates first, then stress and strain per element. The network must roll out on
# its own: from step 1 on, the coordinates of the free nodes are its own previous prediction, not the solver's.
# While training, the task sets `teacher_forcing` (a probability) before each epoch: with that probability a
# sample takes the solver's coordinates instead (scheduled sampling, as in the paper). Here a ConvGRU cell stands
# in for the paper's ConvLSTM, and two pieces of mechanics are built in rather than learned: each step predicts a
# small increment of the node positions (the plate moves a few % of its size, so absolute positions would have to
# be learned to 1e-3 of the range), and clamped nodes do not move.
class MyConvGRU(nn.Module):
    """A 2D convolutional GRU rolled out over the steps. Shapes: (B, T, 5, H, W) -> (B, T, F)."""

    def __init__(self, spec: sciconv.DataSpec, hidden: int = 8) -> None:
        super().__init__()
        _, channels, height, width = spec.input_shape
        if spec.extra["dim"] != 2:
            raise sciconv.DataError(f"MyConvGRU is 2D; these data are {spec.extra['dim']}D")
        self.hidden, self.grid = hidden, (height, width)
        self.teacher_forcing = 0.0
        self.gates = nn.Conv2d(channels + hidden, 2 * hidden, 3, padding=1)  # update and reset gates
        self.candidate = nn.Conv2d(channels + hidden, hidden, 3, padding=1)
        self.node_head = nn.Conv2d(hidden, 2, 1)  # next x, y of every node
        self.elem_head = nn.Conv2d(hidden, 2, 2)  # 2 x 2 nodes -> 1 element: stress and strain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps = x.shape[:2]
        h = x.new_zeros(batch, self.hidden, *self.grid)
        fixed = x[:, 0, 4:5] > 0  # clamped nodes (mask scaled to -1 / +1)
        node, outputs = None, []
        for t in range(steps):
            frame = x[:, t]
            if node is not None:  # feed back the predicted coordinates of the free nodes
                coords = torch.where(fixed, frame[:, :2], node)
                if self.training and self.teacher_forcing > 0:
                    use_true = torch.rand(batch, 1, 1, 1, device=x.device) < self.teacher_forcing
                    coords = torch.where(use_true, frame[:, :2], coords)
                frame = torch.cat([coords, frame[:, 2:]], dim=1)
            update, reset = torch.sigmoid(self.gates(torch.cat([frame, h], dim=1))).chunk(2, dim=1)
            h = (1 - update) * h + update * torch.tanh(self.candidate(torch.cat([frame, reset * h], dim=1)))
            # the next positions as a small step from the current ones; clamped nodes stay where they are
            node = torch.where(fixed, frame[:, :2], frame[:, :2] + 0.1 * torch.tanh(self.node_head(h)))
            elem = torch.tanh(self.elem_head(h))
            outputs.append(torch.cat([node.flatten(1), elem.flatten(1)], dim=1))
        return torch.stack(outputs, dim=1)


pipe.model = MyConvGRU
pipe.config.model.params = {"hidden": 8}

# %%
# 3. Run
# ------
# Trains your network with the paper's loss (1e5 x MSE of nodes + 1e5 x MSE of elements) and a non-recurrent
# frame CNN on the same cases, rolls both out free-running on the test cases, and times the solver against them.
result = pipe.run(run_dir=OUT / "run")

# %%
# 4. Read the metrics
# -------------------
# Errors of the whole rollout in physical units, over the test cases: node_nrmse is the RMS node position error
# over the range of the coordinates (the paper's normalisation), disp_nrmse the stricter error over the range of
# the displacements themselves, elem_nrmse the mean of the stress and strain errors over their ranges, node_r2 the
# R² of the displacements (below 0: worse than predicting the mean motion). "nep" is your network (the task's name
# for the pipeline's model), "cnn" the frame-CNN baseline. speedup is the solver's time per case over your
# network's. The run's report.md has the table, error-vs-step curves and deformed meshes. With 24 training cases
# and 40 epochs the nodes stay within 1 % of the plate's size, but the error is about a tenth of the motion and
# the dynamics are not learned (R² near or below 0): this shows the workflow, not a converged surrogate.
keys = ("nep.node_nrmse", "nep.disp_nrmse", "nep.node_r2", "nep.elem_nrmse", "cnn.disp_nrmse", "cnn.node_r2")
for key in (*keys, "speedup"):
    print(f"{key:16s} {result.metrics[key]:.4f}")
print(f"report: {result.run_dir / 'report.md'}")

# %%
# 5. One plot
# -----------
# Roll the trained run out on its own test cases, which writes each case's predicted dis_out.npz and
# effective_out.npz in the same layout as your solver's, and compare them with the solver's files for the test case
# that moves most: the displacement of its most-moving node over time, and the von Mises stress per element at the
# step of peak motion. At this size expect the networks to follow the mean offset rather than the oscillation, and
# your network's stress map to be nearly flat: this is the figure to watch as you train on more cases for longer.
test_rollout = sciconv.load_run(result.run_dir).predict(split="test", out=OUT / "test_rollout", model=MyConvGRU)


def displacement(folder: Path, case: str) -> np.ndarray:
    """|u| (mm) of every node at steps 1..T, (T, H, W): positions in dis_out.npz minus those at rest (t = 0)."""
    at_rest = np.load(root / case / "dis_in.npz")["arr_0"][0, :2]
    return 1e3 * np.linalg.norm(np.load(folder / case / "dis_out.npz")["arr_0"] - at_rest, axis=1)


test_cases = sorted(set(test_rollout.tables["cases"]["case"].astype(str)))
case = max(test_cases, key=lambda c: displacement(root, c).max())
true_u = displacement(root, case)
step, row, col = np.unravel_index(true_u.argmax(), true_u.shape)
steps = np.arange(1, N_STEPS + 1)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
axes[0].plot(steps, true_u[:, row, col], "k-o", label="FE solver")
axes[0].plot(steps, displacement(OUT / "test_rollout" / "nep", case)[:, row, col], "C0-s", label="MyConvGRU")
axes[0].plot(steps, displacement(OUT / "test_rollout" / "cnn", case)[:, row, col], "C1--^", label="frame CNN")
axes[0].set(xlabel="time step", ylabel="|u| (mm)", title=f"test case {case}, node (row {row}, col {col})")
axes[0].legend(fontsize=8)
true_stress = np.load(root / case / "effective_out.npz")["eff_stress"][step] / 1e3  # kPa
pred_stress = np.load(OUT / "test_rollout" / "nep" / case / "effective_out.npz")["eff_stress"][step] / 1e3
vmax = float(max(true_stress.max(), pred_stress.max()))
for ax, stress, title in ((axes[1], true_stress, "FE solver"), (axes[2], pred_stress, "MyConvGRU")):
    image = ax.imshow(stress, origin="lower", cmap="viridis", vmin=0, vmax=vmax)
    ax.set(title=f"von Mises stress, step {step + 1}: {title}", xlabel="element (x)", ylabel="element (y)")
fig.colorbar(image, ax=axes[1:], label="kPa")
fig.savefig(OUT / "deepfea_own_simulations.png", dpi=120)
print(f"figure: {OUT / 'deepfea_own_simulations.png'}")

# %%
# 6. New load cases
# -----------------
# New simulations (other materials, clamps and load histories) in the same layout, on the same grid and number of
# steps, with their own min/max files: prediction scales every input with the ranges the run was trained on
# (and warns about inputs beyond them), whatever the new folder's files say. It rolls each case out from its first
# frame, its clamps and its load history and writes the predicted dis_out.npz and effective_out.npz per case
# (under nep/ and cnn/); as these cases also hold the solver's answer, it reports the errors too.
new_root = OUT / "new_data" / "new_simulations"
write_cases(new_root, seed=1, n_cases=6)
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root)}, out=OUT / "predictions", model=MyConvGRU
)
# One row per case and method; its node_nrmse column is the case's displacement error over the range of the
# displacements (as disp_nrmse in the metrics), not over the range of the coordinates.
print(prediction.tables["cases"].pivot(index="case", columns="method", values="node_nrmse").round(3).to_string())
print(
    f"new cases: nep.disp_nrmse {prediction.metrics['nep.disp_nrmse']:.4f}, "
    f"cnn.disp_nrmse {prediction.metrics['cnn.disp_nrmse']:.4f}"
)
print(f"predicted files: {OUT / 'predictions'}")
