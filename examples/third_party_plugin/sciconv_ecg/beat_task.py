"""The ``ecg.beat-classification`` task: PVC detection, a CNN beside QRS-width thresholding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from sciconv import DataBundle, DataSpec, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import ConfigError, DataError
from sciconv.kit import accuracy, new_figure, save_figure
from sciconv_ecg.baselines import QRSWidthClassifier, qrs_bounds
from sciconv_ecg.metrics import binary_metrics, roc_auc

_METRIC_LABELS = {
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "balanced_accuracy": "balanced accuracy",
    "auc": "AUC",
}


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy with per-class weights, on whichever device the outputs are.

    Args:
        weight: ``(n_classes,)`` class weights.

    Shapes: outputs ``(batch, n_classes)`` logits, targets ``(batch,)`` class indices -> scalar.
    """

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight.float())

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(outputs, targets, weight=self.weight.to(outputs.device))


def pvc_scores(outputs: Tensor) -> np.ndarray:
    """PVC score of each beat from ``(n, 2)`` logits: the logit difference (a monotone function of the
    PVC probability that does not saturate) -> ``(n,)``."""
    return (outputs[:, 1] - outputs[:, 0]).detach().cpu().double().numpy()


def auc_metric(outputs: Tensor, targets: Tensor) -> float:
    """Engine metric: ROC AUC of the PVC scores of ``(n, 2)`` logits against ``(n,)`` targets."""
    return roc_auc(pvc_scores(outputs), targets.cpu().numpy())


def stack_split(split: Any) -> tuple[np.ndarray, np.ndarray]:
    """All ``(x, y)`` items of a map-style dataset as arrays ``(n, *x.shape)`` and ``(n,)``."""
    xs, ys = zip(*(split[i] for i in range(len(split))), strict=True)
    return torch.stack([torch.as_tensor(x) for x in xs]).numpy(), torch.stack([torch.as_tensor(y) for y in ys]).numpy()


class BeatClassificationTask(TaskBase):
    """Detect premature ventricular contractions among beat windows.

    The model is trained on the train split (class-weighted cross-entropy, so that the minority PVC
    class counts as much as the normal beats) with the core engine, validated every epoch (accuracy
    and AUC), and tested on the held-out split: accuracy, sensitivity (PVC recall), specificity
    (normal-beat recall), balanced accuracy and ROC AUC. The same test beats are classified by the
    classical baseline, QRS-width thresholding (:mod:`sciconv_ecg.baselines`, threshold fitted on the train
    split), and by the majority class of the train split. ``test.loss`` is the training objective on
    the test split (class-weighted with ``balanced_loss``).

    Args:
        balanced_loss: weight the loss by inverse class frequency on the train split.
        baseline: run the QRS-width baseline on the first lead (needs ``spec.sfreq``).
        slope_fraction: slope threshold of the baseline's QRS onset/offset detector, as a fraction of
            the steepest QRS slope, in (0, 1).
        example_beats: test beats per class drawn in ``plots/example_beats.png`` (>= 0; 0: no figure).
    """

    def __init__(
        self,
        balanced_loss: bool = True,
        baseline: bool = True,
        slope_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2,
        example_beats: Annotated[int, Field(ge=0)] = 6,
    ) -> None:
        self.balanced_loss = balanced_loss
        self.baseline = baseline
        self.slope_fraction = slope_fraction
        self.example_beats = example_beats

    def run(self, ctx: RunContext) -> TaskResult:
        """Train, test and compare (see the class docstring); returns the metrics, the trained model,
        the results table, report sections and figures."""
        data = ctx.load_data()
        spec = data.spec
        positive = _check_spec(spec, ctx.config.dataset.name)
        if data.val is None or data.test is None:
            raise DataError(f"dataset {ctx.config.dataset.name!r}: this task needs val and test splits")
        x_tr, y_tr = stack_split(data.train)
        x_te, y_te = stack_split(data.test)
        for name, y in (("train", y_tr), ("test", y_te)):
            if not (np.any(y == 0) and np.any(y == 1)):
                raise DataError(f"dataset {ctx.config.dataset.name!r}: the {name} split lacks one of the classes")

        loss_fn: Callable[[Tensor, Tensor], Tensor] = nn.CrossEntropyLoss()
        if self.balanced_loss:
            counts = np.bincount(y_tr, minlength=2).astype(float)
            loss_fn = WeightedCrossEntropy(torch.as_tensor(counts.sum() / (2.0 * counts)))
        model = ctx.build_model(spec)
        fit = ctx.fit(
            model,
            data.train,
            data.val,
            loss_fn=loss_fn,
            metrics={"accuracy": accuracy, "auc": auc_metric},
            name="beat-cnn",
        )
        ctx.save_weights("beat-cnn", fit.model)
        outputs, targets = ctx.predict(fit.model, data.test)
        scores = pvc_scores(outputs)
        cnn = binary_metrics(targets.numpy(), outputs.argmax(dim=1).numpy(), scores)
        metrics: dict[str, float] = {f"test.{k}": v for k, v in cnn.items()}
        metrics["test.loss"] = float(loss_fn(outputs, targets).item())
        metrics["best_epoch"] = float(fit.best_epoch or len(fit.history))

        majority_label = int(np.argmax(np.bincount(y_tr, minlength=2)))  # the train split's majority class
        majority = binary_metrics(y_te, np.full_like(y_te, majority_label), np.zeros(len(y_te)))
        metrics["baseline.majority.accuracy"] = majority["accuracy"]
        table = [ResultRow(f"{ctx.config.model.name} (1D CNN)", _row(cnn))]
        sections = {"Data": _data_section(ctx, spec, data.info, positive)}
        plots: list[tuple[Path, str]] = []

        widths_te: np.ndarray | None = None
        threshold: float | None = None
        if self.baseline:
            if not spec.sfreq:
                raise ConfigError("task.params.baseline: the QRS-width baseline needs the dataset's spec.sfreq")
            clf = QRSWidthClassifier(float(spec.sfreq), _r_index(spec), self.slope_fraction)
            clf.fit(x_tr[:, :1], y_tr)  # measured on the first lead
            threshold = clf.threshold_ms_
            widths_te = clf.widths_ms(x_te[:, :1])
            base = binary_metrics(y_te, (widths_te > threshold).astype(np.int64), widths_te)
            metrics.update({f"baseline.qrs_width.{k}": v for k, v in base.items()})
            metrics["baseline.qrs_width.threshold_ms"] = threshold
            normal_ms = float(np.median(widths_te[y_te == 0]))
            pvc_ms = float(np.median(widths_te[y_te == 1]))
            metrics["qrs_width.test.normal_median_ms"] = normal_ms
            metrics["qrs_width.test.pvc_median_ms"] = pvc_ms
            table.append(
                ResultRow(
                    f"QRS width > {threshold:.0f} ms",
                    _row(base),
                    source="this run; slope-threshold QRS delineation, threshold fitted on the train split",
                )
            )
            sections["QRS-width baseline"] = (
                "Each beat's QRS onset and offset are found from the slope of the 1-30 Hz band-passed signal "
                f"(edges of the run where the slope exceeds {self.slope_fraction:g} of the steepest QRS slope); "
                f"a beat is called {positive} when its QRS is wider than {threshold:.0f} ms, the threshold with the "
                "best balanced accuracy on the train split. Median measured QRS duration on the test split: "
                f"{normal_ms:.0f} ms for {spec.classes[0]} beats, {pvc_ms:.0f} ms for {positive} beats "
                "(textbook: 80-100 ms sinus, >= 120 ms ventricular)."
            )
            ctx.log(f"QRS-width baseline: threshold {threshold:.0f} ms, test accuracy {base['accuracy']:.3f}")
        table.append(
            ResultRow(
                f"majority class (always {spec.classes[majority_label]})",
                _row(majority),
                source="the train split's most frequent class, applied to the test split",
            )
        )
        sections["Reading the numbers"] = (
            f"Sensitivity is the fraction of {positive} beats detected (recall of the positive class), "
            f"specificity the fraction of {spec.classes[0]} beats kept as such; accuracy alone flatters a "
            "detector on imbalanced data (see the majority-class row). The AUC is threshold-free, computed "
            "with the rank (Mann-Whitney) formula from the CNN's logit difference and from the measured "
            "QRS width."
        )

        ctx.save_state(
            "fitted",
            {
                "loss_weights": loss_fn.weight.tolist() if isinstance(loss_fn, WeightedCrossEntropy) else None,
                "qrs_threshold_ms": threshold,
                "majority_label": majority_label,
            },
        )
        if ctx.config.output.plots and self.example_beats > 0:
            plots.append(self._plot_examples(ctx, spec, x_te, y_te, widths_te))
            if widths_te is not None and threshold is not None:
                plots.append(_plot_widths(ctx, spec, widths_te, y_te, threshold))
        return TaskResult(metrics=metrics, model=fit.model, table=table, plots=plots, sections=sections)

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Per beat: the CNN's class and PVC score, and the QRS-width baseline's call with the threshold fitted
        on the run's train split. On labelled beats, the run's metrics under the split's prefix (``test.*`` and
        ``baseline.qrs_width.*`` with ``--split test``)."""
        import pandas as pd

        samples = ctx.samples(bundle)
        spec = ctx.spec or bundle.spec
        fitted = ctx.load_state("fitted")
        model = ctx.load_weights("beat-cnn", ctx.build_model(spec))
        outputs, targets = ctx.predict(model, samples)
        predicted = outputs.argmax(dim=1).numpy()
        scores = pvc_scores(outputs)
        classes = list(spec.classes or ("normal", "pvc"))
        table = pd.DataFrame(
            {"beat": np.arange(len(predicted)), "cnn": [classes[k] for k in predicted], "pvc_score": scores}
        )
        prefix = "test" if ctx.split == "test" else "all"
        y = targets.numpy()
        metrics: dict[str, float] = {}
        if np.any(y == 0) and np.any(y == 1):
            table["label"] = [classes[k] for k in y]
            metrics.update({f"{prefix}.{k}": v for k, v in binary_metrics(y, predicted, scores).items()})
            weights = fitted.get("loss_weights")
            loss_fn = WeightedCrossEntropy(torch.as_tensor(weights)) if weights is not None else nn.CrossEntropyLoss()
            metrics[f"{prefix}.loss"] = float(loss_fn(outputs, targets).item())
        threshold = fitted.get("qrs_threshold_ms")
        if threshold is not None and spec.sfreq:
            x, _ = stack_split(samples)
            clf = QRSWidthClassifier(float(spec.sfreq), _r_index(spec), self.slope_fraction)
            widths = clf.widths_ms(x[:, :1])
            calls = (widths > threshold).astype(np.int64)
            table["qrs_width_ms"] = widths
            table["qrs_width_call"] = [classes[k] for k in calls]
            if metrics and prefix == "test":
                metrics.update({f"baseline.qrs_width.{k}": v for k, v in binary_metrics(y, calls, widths).items()})
                metrics["baseline.qrs_width.threshold_ms"] = float(threshold)
        return PredictionResult(tables={"predictions": table}, metrics=metrics)

    def _plot_examples(
        self, ctx: RunContext, spec: DataSpec, x: np.ndarray, y: np.ndarray, widths: np.ndarray | None
    ) -> tuple[Path, str]:
        sfreq = float(spec.sfreq or 1.0)
        r_index = _r_index(spec)
        t_ms = (np.arange(spec.n_times) - r_index) * 1e3 / sfreq
        fig, grid = new_figure(1, 2, figsize=(10, 3.6), sharey=True)
        axes = grid[0]
        for label, ax in enumerate(axes):
            idx = np.flatnonzero(y == label)[: self.example_beats]
            if widths is not None and len(idx):
                onsets, offsets = qrs_bounds(x[idx, :1], sfreq, r_index, slope_fraction=self.slope_fraction)
            for j, i in enumerate(idx):
                (line,) = ax.plot(t_ms, x[i, 0], lw=1.0, alpha=0.85)
                if widths is not None:
                    for edge in (onsets[j], offsets[j]):
                        ax.plot(t_ms[edge], x[i, 0, edge], "|", ms=14, mew=2, color=line.get_color())
            ax.set_title(f"{spec.classes[label]} (test beats)")
            ax.set_xlabel("time from R fiducial (ms)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(f"lead {spec.channels[0] if spec.channels else ''} ({spec.units or 'a.u.'})")
        fig.tight_layout()
        path = save_figure(fig, ctx.plots_dir / "example_beats.png")
        if widths is None:
            return path, "Example test beats per class"
        return path, "Example test beats per class; ticks mark the baseline's measured QRS onset and offset"


def _plot_widths(
    ctx: RunContext, spec: DataSpec, widths: np.ndarray, y: np.ndarray, threshold: float
) -> tuple[Path, str]:
    fig, grid = new_figure(1, 1, figsize=(5.5, 3.4))
    ax = grid[0, 0]
    bins = np.linspace(widths.min() - 4, widths.max() + 4, 30)
    for label in (0, 1):
        ax.hist(widths[y == label], bins=bins, alpha=0.6, label=str(spec.classes[label]))
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.0f} ms")
    ax.set_xlabel("measured QRS duration (ms)")
    ax.set_ylabel("test beats")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = save_figure(fig, ctx.plots_dir / "qrs_widths.png")
    return path, "Measured QRS durations of the test beats and the threshold fitted on the train split"


def _check_spec(spec: DataSpec, dataset: str) -> str:
    """The name of the positive class (index 1) of a two-class single-lead time-series spec."""
    if spec.task_type != "classification" or spec.n_outputs != 2 or spec.classes is None:
        raise DataError(
            f"task ecg.beat-classification: dataset {dataset!r} must be a two-class classification "
            f"(negative class first, e.g. ('normal', 'PVC')); got {spec.task_type} with classes {spec.classes}"
        )
    if len(spec.input_shape) != 2:
        raise DataError(f"task ecg.beat-classification: expected (n_chans, n_times) beats, got {spec.input_shape}")
    return str(spec.classes[1])


def _r_index(spec: DataSpec) -> int:
    """Sample of the R fiducial in each window (``spec.extra["r_index"]``, else the centre)."""
    return int(spec.extra.get("r_index", spec.n_times // 2))


def _row(values: dict[str, float]) -> dict[str, float | str]:
    return {label: values[key] for key, label in _METRIC_LABELS.items()}


def _data_section(ctx: RunContext, spec: DataSpec, info: dict[str, Any], positive: str) -> str:
    counts = info.get("counts")
    lines = [
        f"Single-lead ({', '.join(spec.channels or ())}) beat windows of {spec.n_times} samples"
        + (f" at {spec.sfreq:g} Hz ({spec.n_times / spec.sfreq:.2f} s, centred on R)" if spec.sfreq else "")
        + f", in {spec.units or 'unknown units'}."
    ]
    if "simulator" in info:
        lines.append(f"Simulated: {info['simulator']}.")
    if counts:
        per_split = "; ".join(
            f"{split}: " + ", ".join(f"{n} {name}" for name, n in per_class.items())
            for split, per_class in counts.items()
        )
        lines.append(f"Beats per split (stratified): {per_split}.")
    if "reference" in info:
        lines.append(f"Reference: {info['reference']}.")
    lines.append(f"Positive class for sensitivity and AUC: {positive}.")
    return " ".join(lines)
