"""A small 1D CNN for single-beat ECG classification."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn

from sciconv import DataSpec
from sciconv.conv import Conv1d
from sciconv.errors import ConfigError


class BeatCNN(nn.Module):
    """Classify beat windows with temporal convolutions.

    The input window is centred on its own mean (``center=True``: removes the offset that baseline
    wander leaves, keeps the amplitudes in mV, which carry information); then ``n_blocks`` blocks of
    convolution (a sciconv :class:`~sciconv.conv.Conv1d`, run on the pipeline's ``conv.backend``),
    batch norm, ReLU and max-pooling by 2; then average and max pooling over time, concatenated, and
    a linear read-out. A unit of the last block sees
    ``(kernel_size - 1) * (2**n_blocks - 1) + 2**n_blocks`` samples (50 samples, 200 ms at 250 Hz with
    the defaults), the scale of a wide QRS complex.

    Args:
        spec: the data spec; uses ``n_chans``, ``n_times`` and ``n_outputs``.
        n_filters: filters of the first block (>= 1), doubled in each following block.
        n_blocks: convolution blocks (>= 1; each halves the time axis, so at most ``log2(n_times)``).
        kernel_size: temporal kernel length in samples (>= 1).
        dropout: dropout probability before the read-out, in [0, 1).
        center: subtract each window's mean per channel first.

    Shapes:
        input ``(batch, n_chans, n_times)`` in the data's units -> output ``(batch, n_outputs)``
        class scores (logits).
    """

    def __init__(
        self,
        spec: DataSpec,
        n_filters: Annotated[int, Field(ge=1)] = 16,
        n_blocks: Annotated[int, Field(ge=1)] = 3,
        kernel_size: Annotated[int, Field(ge=1)] = 7,
        dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2,
        center: bool = True,
    ) -> None:
        super().__init__()
        if spec.task_type != "classification":
            raise ConfigError(f"model ecg.beat-cnn: needs a classification dataset, got {spec.task_type!r}")
        if len(spec.input_shape) != 2:
            raise ConfigError(f"model ecg.beat-cnn: needs (n_chans, n_times) samples, got {spec.input_shape}")
        if spec.n_times < 2**n_blocks:
            raise ConfigError(
                f"model.params.n_blocks: {n_blocks} blocks halve the time axis {n_blocks} times, "
                f"too many for windows of {spec.n_times} samples"
            )
        self.center = center
        layers: list[nn.Module] = []
        in_ch = spec.n_chans
        for i in range(n_blocks):
            out_ch = n_filters * 2**i
            layers += [
                Conv1d(in_ch, out_ch, kernel_size, padding="same", bias=False),
                nn.BatchNorm1d(out_ch),
                nn.ReLU(),
                nn.MaxPool1d(2),
            ]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(2 * in_ch, spec.n_outputs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation of the convolutions (they feed ReLUs); default for the rest."""
        for module in self.modules():
            if isinstance(module, Conv1d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm1d, nn.Linear)):
                module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)`` logits."""
        if self.center:
            x = x - x.mean(dim=-1, keepdim=True)
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)
        return self.readout(self.dropout(pooled))
