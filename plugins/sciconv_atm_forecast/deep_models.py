"""The paper's deep forecasters in torch: a 1D CNN and an LSTM over the delay vector, and a scikit-learn-like
wrapper that trains them with the core :class:`~sciconv.engine.Engine`.

Input design (shared with every pooled model of the plugin): ``X`` of shape ``(n_rows, n_lags + n_exog)``
holds the delay vector at day ``t``, oldest to newest (``[x_{t-(m-1)tau}, ..., x_t]``, each series scaled
to about 1), then the ``n_exog`` exogenous features of the target day (the 7 one-hot day-of-week columns,
or none). The target is the value at day ``t + 1`` (scaled the same way); a model outputs shape ``(n_rows,)``.

Sarveswararao & Ravi (2020) do not publish their deep nets' layer sizes, epochs or optimiser settings (only
that the 1D CNN and the LSTM were trained on the phase-space features with and without the day of week);
the sizes below are ours, chosen small enough to train on the ~80,000 pooled NN5 rows in well under a minute
on two CPU cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn
from torch.utils.data import Dataset

from sciconv.config import EarlyStoppingConfig, TrainConfig
from sciconv.conv import Conv1d
from sciconv.engine import Engine

_PREDICT_CHUNK = 65_536


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


ARCHITECTURES: dict[str, type[nn.Module]] = {"cnn1d": CNN1dForecaster, "lstm": LSTMForecaster}


class _Rows(Dataset):
    """Rows of (X, y) tensors served a whole mini-batch at a time (``__getitems__``), which skips the
    per-row indexing and stacking of a ``TensorDataset`` (5-10x faster loading for narrow rows)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return self.X[idx], self.y[idx]


def _as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate for :class:`_Rows`: the batch is already stacked."""
    return batch


class TorchRegressor(RegressorMixin, BaseEstimator):
    """Scikit-learn-style regressor training a :data:`ARCHITECTURES` network with the core engine.

    ``fit`` standardizes the delay coordinates with one scalar mean and std over all lag columns (so the
    sequence keeps its shape for the convolutions / recurrence; the one-hot columns are left as they are)
    and the target with its mean and std, builds ``ARCHITECTURES[arch](n_lags, n_exog, **module_params)``
    seeded with ``seed``, and trains it with :class:`~sciconv.engine.Engine`: Adam, ``epochs`` epochs of
    shuffled mini-batches, gradient-norm clipping at ``grad_clip``. The loss is L1 by default: the paper and
    NN5 are scored with sMAPE and MASE, both absolute-error measures, and ATM withdrawals have holiday spikes
    that a squared loss chases (``loss="mse"`` is available).

    Early stopping: validation is ``(X_val, y_val)`` when given, else a random ``val_fraction`` of the training
    rows held out (``val_fraction=0`` trains on all rows for all epochs). Training stops after ``patience``
    epochs without a lower validation loss and the best epoch's weights are restored.

    Reproducible: the same ``seed`` (and thread count) gives the same weights; the global RNG state is left
    untouched. ``predict`` runs in eval mode without gradients, on the whole batch at once (fast for the
    task's recursive forecasting, one row per series per step).

    Args:
        arch: ``"cnn1d"`` or ``"lstm"``.
        n_lags, n_exog: the column split of ``X``.
        module_params: extra keyword arguments of the architecture (``channels``, ``hidden``, ...).
        epochs, batch_size, lr, weight_decay, grad_clip: training settings.
        loss: ``"l1"`` or ``"mse"``.
        patience: early-stopping patience in epochs (``None``: no early stopping).
        val_fraction: share of training rows held out for early stopping when no validation set is given.
        seed: seeds the weights, the data order, dropout and the validation split.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        num_threads: torch intra-op threads during fit and predict (``None``: torch's setting). Default 1: the
            nets are tiny, so intra-op parallelism gains nothing, and on a busy CPU OpenMP's barriers between
            threads stall (measured on 80,808 x 14 rows with another process on the second core: 0.35 s per
            CNN epoch with 1 thread, 10 s with 2). Run independent fits in parallel with joblib instead.

    Defaults (batch 512, learning rate 2e-3, at most 30 epochs, patience 5) train either net on 80,808 x 14
    pooled rows in 8 to 12 s on one CPU core (the LSTM stops after ~15 epochs, the CNN runs ~30).

    Attributes:
        module_: the trained network. ``history_``: the engine's per-epoch records. ``best_epoch_``.
    """

    def __init__(
        self,
        arch: str = "cnn1d",
        n_lags: int = 7,
        n_exog: int = 7,
        module_params: dict[str, Any] | None = None,
        epochs: int = 30,
        batch_size: int = 512,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        grad_clip: float | None = 1.0,
        loss: str = "l1",
        patience: int | None = 5,
        val_fraction: float = 0.1,
        seed: int = 0,
        device: str = "cpu",
        num_threads: int | None = 1,
    ) -> None:
        self.arch = arch
        self.n_lags = n_lags
        self.n_exog = n_exog
        self.module_params = module_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.loss = loss
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.num_threads = num_threads

    # -- helpers -----------------------------------------------------------------------------------

    def _check_X(self, X: Any, what: str = "X") -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        width = self.n_lags + self.n_exog
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(
                f"{what} must have shape (n_rows, n_lags + n_exog) = (n_rows, {width}); got shape {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return X

    def _scale_X(self, X: np.ndarray) -> torch.Tensor:
        Z = X.copy()
        Z[:, : self.n_lags] = (Z[:, : self.n_lags] - self.x_mean_) / self.x_scale_
        return torch.as_tensor(Z, dtype=torch.float32)

    def _scale_y(self, y: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)

    # -- estimator API -----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> TorchRegressor:
        """Train on X (n, n_lags + n_exog), y (n,); optional validation X_val (n_val, ...), y_val (n_val,)."""
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}; got {self.arch!r}")
        if self.loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse'; got {self.loss!r}")
        X = self._check_X(X)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(y) != len(X) or len(X) == 0:
            raise ValueError(f"X and y must hold the same, non-zero number of rows; got {len(X)} and {len(y)}")
        rng = np.random.default_rng(self.seed)
        if X_val is not None:
            X_val = self._check_X(X_val, "X_val")
            y_val = np.asarray(y_val, dtype=np.float64).reshape(-1)
            X_tr, y_tr = X, y
        elif self.val_fraction > 0 and len(X) >= 10:
            perm = rng.permutation(len(X))
            n_val = max(1, round(self.val_fraction * len(X)))
            X_val, y_val = X[perm[:n_val]], y[perm[:n_val]]
            X_tr, y_tr = X[perm[n_val:]], y[perm[n_val:]]
        else:
            X_tr, y_tr = X, y
        lags = X_tr[:, : self.n_lags]
        self.x_mean_ = float(lags.mean())
        self.x_scale_ = float(lags.std()) or 1.0
        self.y_mean_ = float(y_tr.mean())
        self.y_scale_ = float(y_tr.std()) or 1.0
        train = _Rows(self._scale_X(X_tr), self._scale_y(y_tr))
        val = _Rows(self._scale_X(X_val), self._scale_y(y_val)) if X_val is not None else None
        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            optimizer="adam",
            grad_clip=self.grad_clip,
            seed=self.seed,
            device=self.device,
            early_stopping=EarlyStoppingConfig(
                patience=self.patience if val is not None else None, restore_best=val is not None
            ),
            progress=False,
        )
        loss_fn = nn.L1Loss() if self.loss == "l1" else nn.MSELoss()
        with _threads(self.num_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = ARCHITECTURES[self.arch](self.n_lags, self.n_exog, **(self.module_params or {}))
            result = Engine(config, checkpoint_root=None).fit(
                module, train, val, loss_fn=loss_fn, name=f"atm-{self.arch}", collate_fn=_as_batch
            )
        self.module_ = result.model.cpu().eval()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Forecasts in the target's units. X (n, n_lags + n_exog) -> (n,)."""
        if not hasattr(self, "module_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this TorchRegressor is not fitted yet; call fit first")
        Z = self._scale_X(self._check_X(X))
        self.module_.eval()
        outputs = []
        with _threads(self.num_threads), torch.no_grad():
            for start in range(0, len(Z), _PREDICT_CHUNK):
                outputs.append(self.module_(Z[start : start + _PREDICT_CHUNK]))
        out = torch.cat(outputs).double().numpy() if outputs else np.empty(0)
        return out * self.y_scale_ + self.y_mean_


class _threads:
    """Context manager setting torch's intra-op thread count inside the block (``None``: unchanged)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old = torch.get_num_threads()

    def __enter__(self) -> None:
        if self.n is not None:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.n is not None:
            torch.set_num_threads(self.old)


__all__ = ["ARCHITECTURES", "CNN1dForecaster", "LSTMForecaster", "TorchRegressor"]
