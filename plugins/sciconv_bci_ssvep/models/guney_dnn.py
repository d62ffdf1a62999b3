"""The SSVEP DNN of Guney, Oblokulov and Ozkan (IEEE TBME 2021).

The input is the sub-band decomposition of a short EEG window, ``(batch, n_subbands, n_channels,
n_times)`` in microvolts. The layers are:

1. a 1x1 convolution that sums the sub-bands with learnt weights (initialised to ones, no bias);
2. a ``(n_channels x 1)`` convolution with 120 filters, a spatial filter bank; dropout;
3. a ``(1 x 2)`` convolution with stride 2 and 120 filters; dropout; ReLU, the only nonlinearity;
4. a ``(1 x 10)`` convolution with 'same' padding and 120 filters; dropout 0.95;
5. a fully connected layer to the targets (softmax is in the loss).

Weights are drawn from N(0, 0.01^2) and biases start at zero. With 9 channels, 0.4 s at 250 Hz and 3
sub-bands the weights, biases excluded, number 413,883 as in the paper. The official code's L2
regularisation covers weights only, so :meth:`GuneyDNN.no_weight_decay` lists the biases. All
convolutions go through :mod:`sciconv.conv`, so the pipeline's ``conv.backend`` runs them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from sciconv import DataSpec
from sciconv.conv import Conv2d
from sciconv.errors import ConfigError


class GuneyDNN(nn.Module):
    """The sub-band SSVEP DNN.

    Args:
        spec: ``spec.input_shape`` is ``(n_subbands, n_channels, n_times)``; ``spec.n_outputs`` is
            the number of targets.
        n_filters: filters of the three convolutions after the sub-band layer (120 in the paper).
        time_kernel: length of the last convolution's kernel in samples (10 in the paper).
        dropout: the three dropout probabilities (stage 1: 0.1, 0.1, 0.95); checked here, because the
            speller task passes its own (``task.params.stage1_dropout``).
        init_std: standard deviation of the normal weight initialisation (0.01).

    Shapes:
        input (batch, n_subbands, n_channels, n_times) -> output (batch, n_outputs) logits.
    """

    def __init__(
        self,
        spec: DataSpec,
        n_filters: Annotated[int, Field(ge=1)] = 120,
        time_kernel: Annotated[int, Field(ge=1)] = 10,
        dropout: tuple[float, float, float] = (0.1, 0.1, 0.95),
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if len(spec.input_shape) != 3:
            raise ConfigError(
                f"bci-ssvep.guney-dnn needs samples of shape (n_subbands, n_channels, n_times), got {spec.input_shape}"
            )
        n_subbands, n_channels, n_times = spec.input_shape
        if n_times < 2:
            raise ConfigError(f"bci-ssvep.guney-dnn needs at least 2 time samples, got {n_times}")
        if len(dropout) != 3 or not all(0.0 <= p < 1.0 for p in dropout):
            raise ConfigError(f"model.params.dropout: expected three probabilities in [0, 1), got {dropout}")
        self.init_std = init_std
        self.subbands = Conv2d(n_subbands, 1, kernel_size=1, bias=False)
        self.spatial = Conv2d(1, n_filters, kernel_size=(n_channels, 1))
        self.drop1 = nn.Dropout(dropout[0])
        self.downsample = Conv2d(n_filters, n_filters, kernel_size=(1, 2), stride=(1, 2))
        self.drop2 = nn.Dropout(dropout[1])
        self.relu = nn.ReLU()
        # 'same' padding; for an even kernel MATLAB and torch both put the extra zero on the right.
        self.pad = nn.ZeroPad2d(((time_kernel - 1) // 2, time_kernel // 2, 0, 0))
        self.temporal = Conv2d(n_filters, n_filters, kernel_size=(1, time_kernel))
        self.drop3 = nn.Dropout(dropout[2])
        self.classifier = nn.Linear(n_filters * (n_times // 2), spec.n_outputs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Sub-band weights to ones; other weights from N(0, init_std^2); biases to zero."""
        nn.init.ones_(self.subbands.weight)
        for layer in (self.spatial, self.downsample, self.temporal, self.classifier):
            nn.init.normal_(layer.weight, mean=0.0, std=self.init_std)
            nn.init.zeros_(layer.bias)

    def set_dropout(self, first: float, second: float, third: float | None = None) -> None:
        """Change the dropout probabilities (stage 2 raises the first two to 0.6 or 0.7)."""
        self.drop1.p, self.drop2.p = first, second
        if third is not None:
            self.drop3.p = third

    def no_weight_decay(self) -> list[str]:
        """Parameters exempt from L2 regularisation: the biases, as in the official code."""
        return [name for name, _ in self.named_parameters() if name.endswith("bias")]

    def n_weights(self) -> int:
        """Number of weights, biases excluded (the count the paper reports)."""
        return sum(p.numel() for name, p in self.named_parameters() if not name.endswith("bias"))

    def forward(self, x: Tensor) -> Tensor:
        x = self.subbands(x)  # (B, 1, C, N)
        x = self.drop1(self.spatial(x))  # (B, F, 1, N)
        x = self.relu(self.drop2(self.downsample(x)))  # (B, F, 1, N // 2)
        x = self.drop3(self.temporal(self.pad(x)))  # (B, F, 1, N // 2)
        return self.classifier(x.flatten(1))
