"""E-3DSNN (Qiu, Yao et al., AAAI 2025): a spiking sparse 3D CNN for point clouds, every convolution on
:mod:`sciconv.conv.sparse`.

Layout of the official classifier (reproduced here; BatchNorm eps 1e-3, momentum 0.01; convolutions without
bias except the head's):

- Spike Voxel Coding (done by the task before the network): each cloud normalised to the unit sphere and
  grid-sampled, one voxel per occupied cell with that cell's point's ``xyz`` and normal as its 6 features.
- Stem: submanifold 3x3x3 ``6 -> E`` + BN, then twice (neuron -> submanifold 3x3x3 ``E -> E`` + BN).
- Four stages ``i``: neuron -> strided sparse conv (kernel 2, stride 2) ``C_{i-1} -> C_i`` + BN, then ``depth_i``
  basic blocks. A block adds, on the membrane potentials (before any spike), ``a = x + U1(x)`` and
  ``out = a + U3(U2(a))``, each ``U`` being neuron -> submanifold 3x3x3 ``C_i -> C_i`` + BN ("membrane
  shortcut").
- Head: submanifold 1x1x1 ``C_4 -> classes`` (with bias) on the last membrane potentials, then the mean over each
  sample's active sites: ``(B, classes)`` logits.

Presets (the paper's): T (embed 16, stages [16, 32, 64, 128], depth [1, 1, 1, 1]: 1.87 M parameters), S (24,
[24, 48, 96, 160], depth 1: 3.27 M), L (64, [64, 128, 128, 256], depth 2: 17.3 M). ``neuron: relu`` gives the
ANN twin: the same network with ReLU in place of the spiking neuron.

Every convolution is a :class:`ConvUnit` (an optional neuron, the conv, an optional BN), which can record the
rulebook pairs it used and the spikes it received; :mod:`sciconv_e3dsnn.energy` turns those records into
synaptic operations and energy.

Input: clouds ``(B, P, 6)`` (xyz on the unit sphere and normals), which the network grid-samples itself at its
``voxel_size`` (:func:`sciconv_e3dsnn.voxels.clouds_to_voxels`; a random point per cell in training mode, the
first in evaluation mode), or that grid-sampling's dict (``features`` (N, 6) float, ``coords`` (N, 4) int64
(batch, z, y, x), ``spatial_shape`` (3,) int64, ``batch_size`` () int64).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from sciconv.conv.sparse import (
    SparseBatchNorm,
    SparseConv3d,
    SparseVoxelTensor,
    SubMConv3d,
    get_rulebook,
    rulebook_macs,
    sparse_mean_per_sample,
)
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_e3dsnn.models.multispike import MultiSpikeNeuron, ReLUNeuron
from sciconv_e3dsnn.voxels import DOWNSAMPLING, clouds_to_voxels

PRESETS: dict[str, dict[str, Any]] = {
    "T": {"embed_channels": 16, "stage_channels": [16, 32, 64, 128], "depths": [1, 1, 1, 1]},
    "S": {"embed_channels": 24, "stage_channels": [24, 48, 96, 160], "depths": [1, 1, 1, 1]},
    "L": {"embed_channels": 64, "stage_channels": [64, 128, 128, 256], "depths": [2, 2, 2, 2]},
}
PUBLISHED_PARAMS = {"T": 1.87e6, "S": 3.27e6, "L": 17.3e6}
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

Neuron = Literal["multispike", "relu"]


def _neuron(kind: Neuron, max_spikes: int) -> nn.Module:
    return MultiSpikeNeuron(max_spikes) if kind == "multispike" else ReLUNeuron()


class ConvUnit(nn.Module):
    """``[neuron ->] sparse conv [-> BN]`` on a :class:`SparseVoxelTensor`.

    While ``record`` is on, accumulates over forwards: ``pairs`` (rulebook pairs, identity offset included),
    ``macs`` (multiply-accumulates, :func:`~sciconv.conv.sparse.rulebook_macs`),
    ``sites_in`` / ``sites_out`` (active sites), ``samples`` and ``input_sum`` / ``input_count`` (sum and number
    of the conv's input elements: spike counts after a neuron). Shapes: features (N, C_in) -> (M, C_out).
    """

    def __init__(self, conv: SubMConv3d | SparseConv3d, neuron: nn.Module | None, norm: bool) -> None:
        super().__init__()
        self.neuron = neuron
        self.conv = conv
        self.norm = SparseBatchNorm(conv.out_channels, eps=BN_EPS, momentum=BN_MOMENTUM) if norm else None
        self.record = False
        self.reset_counts()

    def reset_counts(self) -> None:
        self.pairs = 0
        self.macs = 0
        self.sites_in = 0
        self.sites_out = 0
        self.samples = 0
        self.input_sum = 0.0
        self.input_count = 0

    @property
    def spiking_input(self) -> bool:
        """Whether the conv receives spikes (a spiking neuron precedes it)."""
        return bool(getattr(self.neuron, "spiking", False))

    @property
    def submanifold(self) -> bool:
        return isinstance(self.conv, SubMConv3d)

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        if self.neuron is not None:
            x = x.replace_features(self.neuron(x.features))
        y = self.conv(x)
        if self.record:
            self._note(x)
        return self.norm(y) if self.norm is not None else y

    def _note(self, x: SparseVoxelTensor) -> None:
        conv = self.conv
        if isinstance(conv, SubMConv3d):
            rb = get_rulebook(x, conv.kernel_size, dilation=conv.dilation, submanifold=True)
        else:
            rb = get_rulebook(x, conv.kernel_size, conv.stride, conv.padding, conv.dilation)
        self.pairs += rb.num_pairs
        self.macs += rulebook_macs(rb, conv.in_channels, conv.out_channels)
        self.sites_in += rb.num_in
        self.sites_out += rb.num_out
        self.samples += x.batch_size
        self.input_sum += float(x.features.detach().sum())
        self.input_count += x.features.numel()


def _subm(c_in: int, c_out: int, kernel: int = 3, bias: bool = False) -> SubMConv3d:
    return SubMConv3d(c_in, c_out, kernel, bias=bias)


class BasicBlock(nn.Module):
    """``a = x + U1(x)``, ``out = a + U3(U2(a))`` on membrane potentials. Shapes: (N, C) -> (N, C)."""

    def __init__(self, channels: int, neuron: Neuron, max_spikes: int) -> None:
        super().__init__()
        self.first = ConvUnit(_subm(channels, channels), _neuron(neuron, max_spikes), norm=True)
        self.second = ConvUnit(_subm(channels, channels), _neuron(neuron, max_spikes), norm=True)
        self.third = ConvUnit(_subm(channels, channels), _neuron(neuron, max_spikes), norm=True)

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        a = x.replace_features(x.features + self.first(x).features)
        out = self.third(self.second(a))
        return a.replace_features(a.features + out.features)


class Stage(nn.Module):
    """neuron -> sparse conv (kernel 2, stride 2) + BN, then ``depth`` basic blocks.
    Shapes: (N, C_in) on (D, H, W) -> (M, C_out) on (D/2, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int, depth: int, neuron: Neuron, max_spikes: int) -> None:
        super().__init__()
        down = SparseConv3d(c_in, c_out, kernel_size=2, stride=2, padding=0, bias=False)
        self.down = ConvUnit(down, _neuron(neuron, max_spikes), norm=True)
        self.blocks = nn.ModuleList(BasicBlock(c_out, neuron, max_spikes) for _ in range(depth))

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        x = self.down(x)
        for block in self.blocks:
            x = block(x)
        return x


def sparse_input(batch: dict[str, torch.Tensor]) -> SparseVoxelTensor:
    """The network's input dict (see the module docstring) as a :class:`SparseVoxelTensor`."""
    if not isinstance(batch, dict) or not {"features", "coords", "spatial_shape", "batch_size"} <= set(batch):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"E-3DSNN expects a dict with features, coords, spatial_shape and batch_size (from "
            f"sciconv_e3dsnn.voxels.clouds_to_voxels), got {got}"
        )
    shape = tuple(int(s) for s in batch["spatial_shape"].tolist())
    if any(s % DOWNSAMPLING for s in shape):
        raise ValueError(f"E-3DSNN needs a spatial shape that is a multiple of {DOWNSAMPLING}, got {shape}")
    return SparseVoxelTensor(batch["features"], batch["coords"], shape, int(batch["batch_size"]), validate=False)


class E3DSNNModel(nn.Module):
    """E-3DSNN (or its ANN twin): voxels -> ``(B, n_classes)`` logits.

    Args:
        in_channels: voxel features (6: xyz and normal).
        n_classes: classes.
        embed_channels, stage_channels, depths: the stem width, the four stages' widths and blocks per stage.
        neuron: ``multispike`` (the SNN) or ``relu`` (the ANN twin).
        max_spikes: D, the largest spike count of the neuron.
        voxel_size: grid size of the Spike Voxel Coding, in units of the unit-sphere radius (paper: 0.01).
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        embed_channels: int,
        stage_channels: list[int],
        depths: list[int],
        neuron: Neuron = "multispike",
        max_spikes: int = 4,
        voxel_size: float = 0.01,
    ) -> None:
        super().__init__()
        self.voxel_size = float(voxel_size)
        if len(stage_channels) != len(depths) or not stage_channels:
            raise ConfigError(
                f"E-3DSNN: stage_channels {stage_channels} and depths {depths} must be non-empty and equally long"
            )
        self.neuron_kind = neuron
        self.in_channels = int(in_channels)
        self.max_spikes = int(max_spikes)
        e = int(embed_channels)
        self.stem = nn.Sequential(
            ConvUnit(_subm(in_channels, e), None, norm=True),
            ConvUnit(_subm(e, e), _neuron(neuron, max_spikes), norm=True),
            ConvUnit(_subm(e, e), _neuron(neuron, max_spikes), norm=True),
        )
        widths = [e, *(int(c) for c in stage_channels)]
        self.stages = nn.ModuleList(
            Stage(widths[i], widths[i + 1], int(depths[i]), neuron, max_spikes) for i in range(len(depths))
        )
        self.head = ConvUnit(_subm(widths[-1], n_classes, kernel=1, bias=True), None, norm=False)
        self.apply(_init_weights)

    def features(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        """Membrane potentials after the last stage. Shapes: (N, 6) -> (M, C_4) on the grid / 16."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, batch: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Input dict or clouds ``(B, P, C)`` (see the module docstring) -> ``(B, n_classes)`` logits."""
        if isinstance(batch, torch.Tensor):  # clouds: grid-sample them here
            if batch.dim() != 3 or batch.shape[2] != self.in_channels:
                raise ValueError(
                    f"E-3DSNN expects clouds of shape (B, P, {self.in_channels}), got {tuple(batch.shape)}"
                )
            pick = "random" if self.training else "first"
            batch = clouds_to_voxels(batch, self.voxel_size, pick)
        x = self.features(sparse_input(batch))
        return sparse_mean_per_sample(self.head(x))

    def units(self) -> list[tuple[str, ConvUnit]]:
        """Every convolution unit in forward order, with its module name."""
        return [(name, m) for name, m in self.named_modules() if isinstance(m, ConvUnit)]

    def set_recording(self, on: bool) -> None:
        """Start (resetting the counts) or stop recording each convolution unit's rulebook pairs and inputs."""
        for _, unit in self.units():
            if on:
                unit.reset_counts()
            unit.record = on


def _init_weights(module: nn.Module) -> None:
    """The official initialisation: submanifold convs truncated normal (std 0.02) with zero bias, BN weight 1 and
    bias 0; the strided convs keep the default (Kaiming-uniform) initialisation."""
    if isinstance(module, SubMConv3d):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def E3DSNN(
    spec: DataSpec,
    preset: Literal["T", "S", "L"] = "T",
    embed_channels: Annotated[int, Field(ge=1)] | None = None,
    stage_channels: list[Annotated[int, Field(ge=1)]] | None = None,
    depths: list[Annotated[int, Field(ge=0)]] | None = None,
    neuron: Neuron = "multispike",
    max_spikes: Annotated[int, Field(ge=1, le=64)] = 4,
    voxel_size: Annotated[float, Field(gt=0.0, le=1.0)] = 0.01,
) -> E3DSNNModel:
    """E-3DSNN sized to ``spec`` (input_shape ``(n_points, 6)``, ``n_outputs`` classes): a preset (T, S, L), with
    ``embed_channels`` / ``stage_channels`` / ``depths`` overriding it where given; ``neuron: relu`` is the ANN
    twin."""
    if len(spec.input_shape) != 2 or spec.input_shape[1] < 3:
        raise ConfigError(
            f"E-3DSNN expects point clouds of shape (n_points, channels >= 3), got input_shape {spec.input_shape}"
        )
    size = {**PRESETS[preset]}
    for key, value in (("embed_channels", embed_channels), ("stage_channels", stage_channels), ("depths", depths)):
        if value is not None:
            size[key] = value
    return E3DSNNModel(
        int(spec.input_shape[1]),
        int(spec.n_outputs),
        size["embed_channels"],
        list(size["stage_channels"]),
        list(size["depths"]),
        neuron,
        max_spikes,
        voxel_size,
    )


def preset_parameters(preset: str, n_classes: int = 40, in_channels: int = 6) -> int:
    """Parameters of a preset for ``n_classes`` (convs without bias but the head's, BN affine)."""
    size = PRESETS[preset]
    e, widths, depths = size["embed_channels"], [size["embed_channels"], *size["stage_channels"]], size["depths"]
    total = 27 * (in_channels * e + 2 * e * e) + 3 * 2 * e
    for i, depth in enumerate(depths):
        c_in, c_out = widths[i], widths[i + 1]
        total += 8 * c_in * c_out + 2 * c_out + depth * 3 * (27 * c_out * c_out + 2 * c_out)
    return total + widths[-1] * n_classes + n_classes


__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "DOWNSAMPLING",
    "E3DSNN",
    "PRESETS",
    "PUBLISHED_PARAMS",
    "BasicBlock",
    "ConvUnit",
    "E3DSNNModel",
    "Stage",
    "count_parameters",
    "preset_parameters",
    "sparse_input",
]
