"""The paper's 1D CNN over the delay vector: :class:`CNN1dForecaster` and its registered factory
:func:`CNN1dNet` (``atm-forecast.cnn1d``, the pipelines' ``model:``).

Input design (shared with every pooled model of the plugin, :mod:`~sciconv_atm_forecast.features`): a row of
shape ``(n_lags + n_exog,)`` holds the delay vector at day ``t``, oldest to newest (``[x_{t-(m-1)tau}, ..., x_t]``,
each series scaled to about 1), then the ``n_exog`` exogenous features of the target day (the 7 one-hot
day-of-week columns, or none). The output is the value at day ``t + 1`` (scaled the same way), shape ``(N,)``.

Sarveswararao & Ravi (2020) do not publish their deep nets' layer sizes, epochs or optimiser settings (only that
the 1D CNN and the LSTM were trained on the phase-space features with and without the day of week); the sizes
below are ours, chosen small enough to train on the ~80,000 pooled NN5 rows in well under a minute on two CPU
cores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciconv.conv import Conv1d
from sciconv.spec import DataSpec
from sciconv_atm_forecast.features import spec_sizes


class CNN1dForecaster(nn.Module):
    """1D convolutional forecaster: convolutions along the delay vector, then a dense head.

    The ``n_lags`` delay coordinates form a 1-channel sequence of length ``n_lags``; ``len(channels)``
    convolution layers (``sciconv.conv.Conv1d``, so the convolution backend is the run's ``conv.backend``
    setting, or ``conv_backend``) with odd ``kernel_size`` and 'same' zero padding (``(kernel_size - 1) / 2``,
    so any ``n_lags >= 1`` works, including the univariate ``n_lags = 1``) and ReLU keep the length. The
    feature maps are flattened, the ``n_exog`` day-of-week features are concatenated, and a dense layer of
    ``hidden`` ReLU units with dropout maps to one output::

        h = ReLU(conv_K(... ReLU(conv_1(x_lags)))) ; y = W2 dropout(ReLU(W1 [flatten(h), x_exog])) + b2

    No pooling: the sequences are short (7 to 21 delays) and position matters (the newest delay most).

    Shapes: input (N, n_lags + n_exog) -> output (N,).
    """

    def __init__(
        self,
        n_lags: int,
        n_exog: int = 7,
        channels: Sequence[int] = (32, 32),
        kernel_size: int = 3,
        hidden: int = 64,
        dropout: float = 0.1,
        conv_backend: str | None = None,
    ) -> None:
        super().__init__()
        if n_lags < 1 or n_exog < 0:
            raise ValueError(f"need n_lags >= 1 and n_exog >= 0; got {n_lags} and {n_exog}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (for 'same' padding); got {kernel_size}")
        if not channels:
            raise ValueError("channels must name at least one convolution layer")
        self.n_lags, self.n_exog = n_lags, n_exog
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            layers += [
                Conv1d(c_in, c_out, kernel_size, padding=(kernel_size - 1) // 2, backend=conv_backend),
                nn.ReLU(),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(c_in * n_lags + n_exog, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def reset_parameters(self) -> None:
        """Re-initialise every layer with torch's defaults."""
        for module in self.modules():
            if module is not self and callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, n_lags + n_exog) -> (N,)."""
        seq = x[:, : self.n_lags].unsqueeze(1)
        feats = self.features(seq).flatten(1)
        return self.head(torch.cat([feats, x[:, self.n_lags :]], dim=1)).squeeze(-1)


def CNN1dNet(
    spec: DataSpec,
    channels: Sequence[int] = (32, 32),
    kernel_size: int = 3,
    hidden: int = 64,
    dropout: float = 0.1,
    conv_backend: str | None = None,
) -> nn.Module:
    """The registered factory ``atm-forecast.cnn1d``: a :class:`CNN1dForecaster` sized from
    ``spec.extra["n_lags"]`` and ``spec.extra["n_exog"]`` (default: ``input_shape[0] - 7`` lags and 7; see
    :func:`~sciconv_atm_forecast.features.spec_sizes`).

    Shapes: (N, n_lags + n_exog) -> (N,)."""
    n_lags, n_exog = spec_sizes(spec)
    return CNN1dForecaster(
        n_lags,
        n_exog,
        channels=tuple(channels),
        kernel_size=kernel_size,
        hidden=hidden,
        dropout=dropout,
        conv_backend=conv_backend,
    )


__all__ = ["CNN1dForecaster", "CNN1dNet"]
