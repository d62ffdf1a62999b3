"""A compact 1D CNN for multichannel time series."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from sciconv import DataSpec
from sciconv.conv import Conv1d


class CNN1d(nn.Module):
    """Temporal convolution blocks (conv, batch norm, ReLU, max-pool), global average pooling and a
    linear read-out. Convolutions run on the pipeline's ``conv.backend``.

    Args:
        spec: the data spec; uses ``spec.n_chans`` and ``spec.n_outputs``.
        n_filters: filters of the first block, doubled in each following block.
        n_blocks: number of convolution blocks.
        kernel_size: temporal kernel length in samples.
        dropout: dropout before the read-out.

    Shapes:
        input (batch, n_chans, n_times) -> output (batch, n_outputs) class scores (logits).
    """

    def __init__(
        self,
        spec: DataSpec,
        n_filters: Annotated[int, Field(ge=1)] = 16,
        n_blocks: Annotated[int, Field(ge=1)] = 3,
        kernel_size: Annotated[int, Field(ge=1)] = 7,
        dropout: Annotated[float, Field(ge=0, lt=1)] = 0.25,
    ) -> None:
        super().__init__()
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
        self.readout = nn.Linear(in_ch, spec.n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.dropout(self.features(x).mean(dim=-1)))
