"""A scikit-learn-like wrapper that trains the plugin's networks (:mod:`~sciconv_atm_forecast.models.cnn1d`,
:mod:`~sciconv_atm_forecast.models.lstm`) with the core's public trainer (:class:`sciconv.context.Trainer`).

``X`` of shape ``(n_rows, n_lags + n_exog)`` holds the delay vector of day ``t`` (oldest first) then the
``n_exog`` exogenous features of the target day; the target ``y`` ``(n_rows,)`` is the value of day ``t + 1``.
The network is built by a model factory ``factory(spec, **module_params)`` from a one-row spec
(:func:`~sciconv_atm_forecast.features.row_spec`): in a pipeline run, the factory the task gets from its run
context (the pipeline's ``model:`` or the registered ``atm-forecast.lstm``); standalone, the plugin's own
registered factory for ``arch``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn
from torch.utils.data import Dataset

from sciconv.context import Trainer
from sciconv.kit import seeded, split_size, torch_threads
from sciconv_atm_forecast.features import row_spec
from sciconv_atm_forecast.models.cnn1d import CNN1dNet
from sciconv_atm_forecast.models.lstm import LSTMNet

_PREDICT_CHUNK = 65_536


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"cnn1d": CNN1dNet, "lstm": LSTMNet}
"""Family name -> the registered factory ``factory(spec, **module_params)`` a :class:`TorchRegressor` builds by
default (``atm-forecast.cnn1d``, ``atm-forecast.lstm``)."""


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
    """Scikit-learn-style regressor training a network of the ``cnn1d`` or ``lstm`` family with the core's
    :class:`~sciconv.context.Trainer`.

    ``fit`` standardizes the delay coordinates with one scalar mean and std over all lag columns (so the
    sequence keeps its shape for the convolutions / recurrence; the one-hot columns are left as they are)
    and the target with its mean and std, builds ``model_factory(row_spec(n_lags, n_exog), **module_params)``
    (default factory: ``ARCHITECTURES[arch]``) with the global generators seeded with ``seed``, and trains it
    with ``Trainer(settings).fit``: Adam, ``epochs`` epochs of shuffled mini-batches, gradient-norm clipping at
    ``grad_clip``, no checkpoints. The loss is L1 by default: the paper and NN5 are scored with sMAPE and MASE,
    both absolute-error measures, and ATM withdrawals have holiday spikes that a squared loss chases
    (``loss="mse"`` is available).

    Early stopping: validation is ``(X_val, y_val)`` when given, else a random ``val_fraction`` of the training
    rows held out (``val_fraction=0`` trains on all rows for all epochs): ``split_size(val_fraction, n)`` rows
    (:func:`sciconv.kit.split_size`: ``max(1, round(val_fraction * n))``) taken first from one
    ``numpy.random.default_rng(seed).permutation(n)``, the rest in permutation order for training. Training
    stops after ``patience`` epochs without a lower validation loss and the best epoch's weights are restored.

    Reproducible: the same ``seed`` (and thread count) gives the same weights; the global RNG states are put
    back after ``fit`` (:func:`sciconv.kit.seeded`). ``predict`` runs in eval mode without gradients, on the
    whole batch at once (fast for the task's recursive forecasting, one row per series per step).

    Args:
        arch: ``"cnn1d"`` or ``"lstm"``: the family, which names the fit (``atm-<arch>``, the seed of its data
            order) and picks the default factory.
        n_lags, n_exog: the column split of ``X``.
        module_params: keyword arguments of the factory (``channels``, ``hidden``, ...).
        model_factory: ``factory(spec, **module_params) -> nn.Module`` building the network (picklable: a
            registered factory such as ``RunContext.model_factory_named("atm-forecast.lstm")``); ``None``:
            ``ARCHITECTURES[arch]``.
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
        model_factory: Callable[..., nn.Module] | None = None,
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
        self.model_factory = model_factory
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
            n_val = split_size(self.val_fraction, len(X))
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
        trainer = Trainer(
            {
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "optimizer": "adam",
                "grad_clip": self.grad_clip,
                "seed": self.seed,
                "device": self.device,
                "early_stopping": {
                    "patience": self.patience if val is not None else None,
                    "restore_best": val is not None,
                },
                "progress": False,
            }
        )
        loss_fn = nn.L1Loss() if self.loss == "l1" else nn.MSELoss()
        factory = self.model_factory or ARCHITECTURES[self.arch]
        with torch_threads(self.num_threads), seeded(self.seed):
            module = factory(row_spec(self.n_lags, self.n_exog), **(self.module_params or {}))
            result = trainer.fit(module, train, val, loss_fn=loss_fn, name=f"atm-{self.arch}", collate_fn=_as_batch)
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
        with torch_threads(self.num_threads), torch.no_grad():
            for start in range(0, len(Z), _PREDICT_CHUNK):
                outputs.append(self.module_(Z[start : start + _PREDICT_CHUNK]))
        out = torch.cat(outputs).double().numpy() if outputs else np.empty(0)
        return out * self.y_scale_ + self.y_mean_


__all__ = ["ARCHITECTURES", "TorchRegressor"]
