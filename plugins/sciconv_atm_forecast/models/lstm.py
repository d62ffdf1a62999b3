"""The paper's LSTM over the delay vector: :class:`LSTMForecaster` and its registered factory :func:`LSTMNet`
(``atm-forecast.lstm``, the second network the forecasting task trains beside the pipeline's ``model:``).

Input design as in :mod:`~sciconv_atm_forecast.models.cnn1d`: a row ``(n_lags + n_exog,)`` of delay coordinates
(oldest first) and the target day's exogenous features; one output per row. The sizes are ours (the paper does
not publish them).
"""

from __future__ import annotations

import torch
from torch import nn

from sciconv.spec import DataSpec
from sciconv_atm_forecast.features import spec_sizes


class LSTMForecaster(nn.Module):
    """LSTM forecaster: an LSTM reads the delay vector oldest to newest, one scalar per step (input size 1);
    its last hidden state, concatenated with the ``n_exog`` day-of-week features of the target day, feeds a
    dense head of ``head_hidden`` ReLU units and one output.

    The day of week enters once, at the head, rather than at every step: it describes the target day, and
    the weekday of each delay coordinate is implied by it only when the lag ``tau`` is known, so feeding it
    per step would add 7 inputs per step without new information.

    Shapes: input (N, n_lags + n_exog) -> output (N,).
    """

    def __init__(
        self,
        n_lags: int,
        n_exog: int = 7,
        hidden_size: int = 32,
        num_layers: int = 1,
        head_hidden: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if n_lags < 1 or n_exog < 0:
            raise ValueError(f"need n_lags >= 1 and n_exog >= 0; got {n_lags} and {n_exog}")
        self.n_lags, self.n_exog = n_lags, n_exog
        self.lstm = nn.LSTM(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden_size + n_exog, head_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head_hidden, 1)
        )

    def reset_parameters(self) -> None:
        """Re-initialise every layer with torch's defaults."""
        for module in self.modules():
            if module is not self and callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, n_lags + n_exog) -> (N,)."""
        _, (h, _) = self.lstm(x[:, : self.n_lags].unsqueeze(-1))
        return self.head(torch.cat([h[-1], x[:, self.n_lags :]], dim=1)).squeeze(-1)


def LSTMNet(
    spec: DataSpec, hidden_size: int = 32, num_layers: int = 1, head_hidden: int = 32, dropout: float = 0.1
) -> nn.Module:
    """The registered factory ``atm-forecast.lstm``: an :class:`LSTMForecaster` sized from the spec like
    :func:`~sciconv_atm_forecast.models.cnn1d.CNN1dNet`. Shapes: (N, n_lags + n_exog) -> (N,)."""
    n_lags, n_exog = spec_sizes(spec)
    return LSTMForecaster(
        n_lags, n_exog, hidden_size=hidden_size, num_layers=num_layers, head_hidden=head_hidden, dropout=dropout
    )


__all__ = ["LSTMForecaster", "LSTMNet"]
