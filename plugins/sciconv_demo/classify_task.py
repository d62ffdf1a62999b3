"""Supervised classification with held-out test evaluation and two classical baselines."""

from __future__ import annotations

import numpy as np
import torch

from sciconv import ResultRow, TaskBase, TaskResult
from sciconv.context import RunContext
from sciconv.kit import accuracy


def _stack(split: torch.utils.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(split[i] for i in range(len(split))), strict=True)
    return torch.stack(list(xs)).numpy(), torch.stack(list(ys)).numpy()


def spectral_peak_predict(x: np.ndarray, sfreq: float, freqs: list[float]) -> np.ndarray:
    """Training-free baseline: the class whose frequency carries the most Welch power (summed over
    channels, fundamental plus second harmonic). ``x``: (n, chans, times) -> (n,) class indices."""
    from scipy.signal import welch  # imported when used: `pipeline validate` needs only the signature

    f, psd = welch(x, fs=sfreq, nperseg=min(x.shape[-1], int(sfreq)), axis=-1)
    power = psd.sum(axis=1)
    scores = [power[:, np.argmin(np.abs(f - c))] + power[:, np.argmin(np.abs(f - 2 * c))] for c in freqs]
    return np.argmax(np.stack(scores, axis=1), axis=1)


def log_psd_features(x: np.ndarray, sfreq: float) -> np.ndarray:
    """Per-channel log Welch power spectra, flattened: (n, chans, times) -> (n, chans * freqs)."""
    from scipy.signal import welch

    _, psd = welch(x, fs=sfreq, nperseg=min(x.shape[-1], int(sfreq)), axis=-1)
    return np.log(psd + 1e-12).reshape(len(x), -1)


class ClassificationTask(TaskBase):
    """Train the model on the train split with validation-based early stopping, then report test
    accuracy beside two baselines on the same split: a training-free spectral-peak detector and a
    nearest-centroid classifier on log power spectra (fitted on train).

    Args:
        baselines: compute the baselines (they need ``spec.sfreq`` and ``spec.extra["freqs"]``).
    """

    def __init__(self, baselines: bool = True) -> None:
        self.baselines = baselines

    def run(self, ctx: RunContext) -> TaskResult:
        data = ctx.load_data()
        model = ctx.build_model(data.spec)
        fit = ctx.fit(model, data.train, data.val, metrics={"accuracy": accuracy})
        test = ctx.evaluate(fit.model, data.test, metrics={"accuracy": accuracy})
        metrics = {
            "test.accuracy": test["accuracy"],
            "test.loss": test["loss"],
            "best_epoch": float(fit.best_epoch or len(fit.history)),
            "chance": 1.0 / data.spec.n_outputs,
        }
        table = [ResultRow(ctx.config.model.name, {"test accuracy": test["accuracy"]})]
        if self.baselines and data.spec.sfreq and "freqs" in data.spec.extra:
            x_tr, y_tr = _stack(data.train)
            x_te, y_te = _stack(data.test)
            peak = float(np.mean(spectral_peak_predict(x_te, data.spec.sfreq, data.spec.extra["freqs"]) == y_te))
            feats_tr, feats_te = (
                log_psd_features(x_tr, data.spec.sfreq),
                log_psd_features(x_te, data.spec.sfreq),
            )
            mean, std = feats_tr.mean(0), feats_tr.std(0) + 1e-8
            centroids = np.stack([((feats_tr[y_tr == k] - mean) / std).mean(0) for k in range(data.spec.n_outputs)])
            dist = (((feats_te - mean) / std)[:, None, :] - centroids[None]) ** 2
            centroid = float(np.mean(dist.sum(-1).argmin(1) == y_te))
            metrics["baseline.spectral_peak.accuracy"] = peak
            metrics["baseline.nearest_centroid.accuracy"] = centroid
            table += [
                ResultRow("spectral peak (training-free)", {"test accuracy": peak}),
                ResultRow("nearest centroid on log-PSD", {"test accuracy": centroid}),
            ]
        table.append(ResultRow("chance", {"test accuracy": metrics["chance"]}, source="chance level, 1 / n_classes"))
        return TaskResult(metrics=metrics, model=fit.model, table=table)
