"""The drag task: RegDGCNN against the DrivAerNet++ comparison (the PointNet regressor), least squares on the design
parameters and the mean predictor, all trained on the dataset's training designs, selected on its validation designs
and scored on its test designs, with the benchmark's measures (MSE, MAE, maximum absolute error, R², inference
time per design), per body family, and the published numbers beside them.

Networks (the pipeline's ``model`` section is RegDGCNN; ``pointnet`` gives the PointNet regressor's parameters)
train through the core's engine with the pipeline's ``train`` settings on the MSE of the drag coefficient (the
official loss), with the official augmentation (:mod:`.point_clouds`) and per-cloud min-max normalisation. With
``standardise_targets`` the targets are the training designs' z-scores (our choice for short CPU runs; the official
code regresses the raw Cd): predictions are mapped back before any error is computed. The weights kept are those of
the epoch with the lowest validation loss (the engine's ``restore_best``), as the official training keeps its best
model.

Least squares: ordinary least squares (an intercept and one slope per design parameter) on the training designs'
parametric table, where the data has one (DrivAerNet++ and the simulator do; DrivAerNet v1's folder does not).
Mean: the training designs' mean Cd for every design.

``infer_ms``: wall-clock milliseconds per design of a method's prediction on the test designs (networks: forward
passes in batches of ``eval_batch_size`` after one warm-up batch, on the run's device; input sampling excluded).

A network of the user's own in the pipeline's model place (``pipe.model = MyNet``, a ``python:`` reference, or
``predict(..., model=MyNet)``) is trained and scored as the ``regdgcnn`` method: its metrics, fit, weights and
prediction column keep that key (so metric names stay stable and its runs predict), while the report, the log, the
figure and the protocol call it by its class name and describe it only by its ``model.params``. It takes clouds
``(B, 3, N)`` and must give one value per cloud, ``(B, 1)`` or ``(B,)``; anything else is refused before training.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import ConfigError, DataError
from sciconv.kit import check_model_output, derive_seed, markdown_table, seed_everything
from sciconv.spec import DataSpec
from sciconv_drivaernet import published
from sciconv_drivaernet.drag_metrics import ERROR_KEYS, drag_errors, errors_by_family

METHODS = ("regdgcnn", "pointnet", "ols", "mean")
NETWORKS = ("regdgcnn", "pointnet")
LABELS = {
    "regdgcnn": "RegDGCNN (dynamic graph CNN)",
    "pointnet": "PointNet regressor (RegPointNet)",
    "ols": "least squares on the design parameters",
    "mean": "mean of the training designs",
}
SHORT = {"regdgcnn": "RegDGCNN", "pointnet": "PointNet", "ols": "least squares", "mean": "mean"}
PIPELINE_METHOD = "regdgcnn"
"""The method the pipeline's model trains as (its metric keys, fit and weights keep this name for any model)."""


def method_labels(own: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The report's long and short name of each method: :data:`LABELS` and :data:`SHORT`, except that the pipeline's
    model is named ``own`` (the class name of a network of the user's own, ``ctx.own_model_name()``) when given."""
    if own is None:
        return dict(LABELS), dict(SHORT)
    long = {**LABELS, PIPELINE_METHOD: f"{own} (the pipeline's model; metrics `{PIPELINE_METHOD}.*`)"}
    return long, {**SHORT, PIPELINE_METHOD: own}


def log_name(method: str, own: str | None) -> str:
    """How the log calls ``method``: its key, or ``MyNet (regdgcnn)`` for the pipeline's model of the user's own."""
    return f"{own} ({method})" if own is not None and method == PIPELINE_METHOD else method


class DragTask(TaskBase):
    """Train and compare the drag predictors on the dataset's train / validation / test designs.

    Args:
        methods: which of ``regdgcnn``, ``pointnet``, ``ols``, ``mean`` to run.
        pointnet: parameters of ``drivaernet.pointnet`` (e.g. a slim preset's ``channels``, ``emb_dims``,
            ``head``); the published preset by default.
        augment: the official training augmentation (scale, shift, jitter).
        normalise: ``minmax`` (per cloud and axis to [0, 1], the official input) or ``none`` (metres).
        standardise_targets: regress the training designs' z-scores of Cd instead of Cd itself.
        eval_batch_size: designs per forward pass at test time.
    """

    def __init__(
        self,
        methods: list[Literal["regdgcnn", "pointnet", "ols", "mean"]] = list(METHODS),  # noqa: B006
        pointnet: dict[str, Any] | None = None,
        augment: bool = True,
        normalise: Literal["minmax", "none"] = "minmax",
        standardise_targets: bool = True,
        eval_batch_size: Annotated[int, Field(ge=1)] = 8,
    ) -> None:
        self.methods = [m for m in METHODS if m in methods]
        self.pointnet = dict(pointnet or {})
        self.augment = bool(augment)
        self.normalise: Literal["minmax", "none"] = normalise
        self.standardise_targets = bool(standardise_targets)
        self.eval_batch_size = int(eval_batch_size)

    def validate(self) -> None:
        if not self.methods:
            raise ConfigError(f"task.params.methods: choose at least one of {', '.join(METHODS)}")

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        data = ctx.load_data()
        info = data.info
        if not info.get("labelled", False):
            raise DataError(
                "drivaernet: these designs have no drag coefficients (no coefficient CSV was found), so nothing can "
                "be trained; give a folder with the coefficient CSV, or apply a finished run with `pipeline predict`"
            )
        split = {name: np.asarray(info["split_index"][name], dtype=np.int64) for name in ("train", "val", "test")}
        for name in ("train", "test"):
            if len(split[name]) == 0:
                raise DataError(f"drivaernet: the {name} split holds no usable design")
        cd = np.asarray(info["cd"], dtype=np.float64)
        families = [d["family"] for d in info["designs"]]
        mean, sd = float(cd[split["train"]].mean()), float(cd[split["train"]].std())
        scale = (mean, sd) if self.standardise_targets and sd > 0 else (0.0, 1.0)
        ctx.save_arrays("targets", {"offset": np.array([scale[0]]), "scale": np.array([scale[1]])})
        ctx.log(
            f"{len(cd)} designs: {len(split['train'])} train, {len(split['val'])} validation, {len(split['test'])} "
            f"test; {info['sampling']['n_points']} points each ({info['sampling']['method']})"
        )
        test = split["test"]
        own = ctx.own_model_name()
        if own is not None and PIPELINE_METHOD in self.methods:
            ctx.log(
                f"{PIPELINE_METHOD}: the pipeline's model is {own} (the user's own network, "
                + describe_params(ctx.model_params)
                + f"); its metrics keep the keys {PIPELINE_METHOD}.*"
            )
        predictions: dict[str, np.ndarray] = {}
        timings: dict[str, float] = {}
        train_seconds: dict[str, float] = {}
        model = None
        for method in self.methods:
            start = time.perf_counter()
            if method in NETWORKS:
                model = self._train_network(ctx, method, data.spec, info, split, cd, scale, own)
                predictions[method], timings[method] = self._infer(model, info, test, scale)
            elif method == "ols":
                if info.get("parameters") is None:
                    ctx.log("least squares: the data has no parametric table; skipped")
                    continue
                fitted = fit_least_squares(info["parameters"][split["train"]], cd[split["train"]])
                ctx.save_arrays("ols", fitted)
                predictions[method], timings[method] = timed(
                    lambda fitted=fitted: apply_least_squares(fitted, info, test), test
                )
            else:
                ctx.save_arrays("mean", {"mean": np.array([mean])})
                predictions[method], timings[method] = timed(lambda: np.full(len(test), mean), test)
            train_seconds[method] = time.perf_counter() - start
            ctx.log(f"{log_name(method, own)}: test R² {drag_errors(cd[test], predictions[method])['r2']:.3f}")
        ctx.save_state(
            "drag",
            {
                "methods": list(predictions),
                "test": [info["designs"][i]["design_id"] for i in test],
                "parameter_names": list(info.get("parameter_names") or []),
                "normalise": self.normalise,
                "n_points": int(info["sampling"]["n_points"]),
            },
        )
        metrics = drag_metrics(cd[test], predictions, [families[i] for i in test], timings)
        return self._result(ctx, info, split, cd, predictions, metrics, train_seconds, model, own)

    def _build(self, ctx: RunContext | PredictContext, method: str, spec: DataSpec) -> Any:
        if method == "regdgcnn":
            return ctx.build_model(spec)
        return ctx.build_model(spec, name="drivaernet.pointnet", **self.pointnet)

    def _dataset(self, info: dict[str, Any], members: np.ndarray, targets: np.ndarray, *, augment: bool) -> Any:
        from sciconv_drivaernet.point_clouds import CloudDataset

        points = info["points"][members]
        return CloudDataset(points, targets[members], augment=augment, normalise=self.normalise)

    def _train_network(
        self,
        ctx: RunContext,
        method: str,
        spec: DataSpec,
        info: dict[str, Any],
        split: dict[str, np.ndarray],
        cd: np.ndarray,
        scale: tuple[float, float],
        own: str | None = None,
    ) -> Any:
        """Train ``method``'s network on the training designs (``own``: the class name of the pipeline's model when
        it is the user's own, checked on two clouds before training and trained on the MSE of its flattened
        output)."""
        import torch

        z = (cd - scale[0]) / scale[1]
        seed_everything(derive_seed(ctx.seed, method))
        model = self._build(ctx, method, spec)
        train = self._dataset(info, split["train"], z, augment=self.augment)
        val = self._dataset(info, split["val"], z, augment=False) if len(split["val"]) else None
        loss_fn: Any = torch.nn.MSELoss()
        if own is not None and method == PIPELINE_METHOD:
            check_own_model(model, own, self._dataset(info, split["train"][:2], z, augment=False).inputs())
            loss_fn = flat_mse
        fitted = ctx.fit(model, train, val, loss_fn=loss_fn, name=method, drop_last=True).model
        ctx.save_weights(method, fitted)
        return fitted

    def _infer(
        self, model: Any, info: dict[str, Any], members: np.ndarray, scale: tuple[float, float]
    ) -> tuple[np.ndarray, float]:
        """A network's Cd of the designs ``members`` and its milliseconds per design."""
        inputs = self._dataset(info, members, np.asarray(info["cd"], dtype=np.float64), augment=False).inputs()
        z, ms = infer(model, inputs, self.eval_batch_size)
        return z * scale[1] + scale[0], ms

    # -- report ----------------------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        split: dict[str, np.ndarray],
        cd: np.ndarray,
        predictions: dict[str, np.ndarray],
        metrics: dict[str, float],
        train_seconds: dict[str, float],
        model: Any,
        own: str | None = None,
    ) -> TaskResult:
        test = split["test"]
        families = [info["designs"][i]["family"] for i in test]
        labels, short = method_labels(own)
        rows = [
            ResultRow(
                labels[m],
                {k: metrics[f"{m}.{k}"] for k in (*ERROR_KEYS, "infer_ms")},
            )
            for m in predictions
        ]
        dataset_kind = info.get("kind", "folder")
        if dataset_kind == "folder" and info.get("release") == "v1":
            rows += [r.row() for r in published.DRIVAERNET_V1]
        elif dataset_kind == "folder":
            rows += [r.row() for r in published.DRIVAERNET_PLUS]
        plots = []
        if ctx.config.output.plots:
            from sciconv_drivaernet.drag_figures import plot_predicted_against_true

            path = plot_predicted_against_true(
                cd[test], predictions, families, {m: short[m] for m in predictions}, ctx.plots_dir / "scatter.png"
            )
            plots.append(
                (
                    path,
                    "Predicted against true drag coefficient of the test designs, one panel per body family (the "
                    "line: perfect prediction).",
                )
            )
        family_rows = []
        by_family = {m: errors_by_family(cd[test], p, families) for m, p in predictions.items()}
        for family in sorted(set(families)):
            row: dict[str, Any] = {"family": family, "designs": by_family[next(iter(by_family))][family]["n"]}
            for m in predictions:
                errors = by_family[m][family]
                row[f"{short[m]} MAE"] = f"{errors['mae']:.4f}"
                row[f"{short[m]} R²"] = f"{errors['r2']:.3f}"
            family_rows.append(row)
        sections = {
            "Protocol": self._protocol_text(ctx, info, split, train_seconds, own),
            "Errors per body family (test designs)": markdown_table(family_rows),
            "Published numbers": published.NOTE + "\n\n" + published_table(),
        }
        if info.get("proxy_note"):
            sections["Drag labels"] = info["proxy_note"]
        return TaskResult(metrics=metrics, model=model, table=rows, plots=plots, sections=sections)

    def _protocol_text(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        split: dict[str, np.ndarray],
        seconds: dict[str, float],
        own: str | None = None,
    ) -> str:
        train = ctx.config.train
        sampling = info["sampling"]
        model = ctx.model_params
        short = method_labels(own)[1]
        skipped = info.get("skipped", {})
        lines = [
            f"- Data: {len(info['designs'])} designs with a mesh and a drag coefficient ("
            + ", ".join(f"{k} {v}" for k, v in sorted(Counter(d["family"] for d in info["designs"]).items()))
            + f"); split {len(split['train'])} / {len(split['val'])} / {len(split['test'])} (train / validation / "
            f"test): {info['split_source']}.",
            f"- Inputs: {sampling['n_points']} points per design, "
            + (
                "mesh vertices drawn without replacement (the official sampling)"
                if sampling["method"] == "vertices"
                else "drawn uniformly over the surface (open3d)"
            )
            + f"; {sampling['n_padded']} designs had fewer vertices and were zero-padded; normalisation "
            f"{self.normalise}; augmentation {'on' if self.augment else 'off'} (training only).",
            f"- Training: {train.epochs} epochs, batch {train.batch_size}, {train.optimizer} lr {train.lr:g}, weight "
            f"decay {train.weight_decay:g}, schedule {train.scheduler.name}; MSE on "
            + ("z-scored Cd" if self.standardise_targets else "Cd")
            + "; the weights of the epoch with the lowest validation loss are kept.",
            self._networks_line(model, own),
            "- Time per method (training and testing): "
            + ", ".join(f"{short[m]} {s:.0f} s" for m, s in seconds.items())
            + ".",
        ]
        if any(skipped.values()):
            lines.append("- Skipped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in skipped.items() if v) + ".")
        return "\n".join(lines)

    def _networks_line(self, model: dict[str, Any], own: str | None) -> str:
        """The protocol's line on the networks' settings: the pipeline's model (RegDGCNN with its published
        defaults filled in, or a network of the user's own described only by its ``model.params``) and PointNet."""
        pointnet = "PointNet: " + (", ".join(f"{k} {v}" for k, v in self.pointnet.items()) or "the published preset")
        if own is None:
            return (
                f"- RegDGCNN: k {model.get('k', 40)}, EdgeConv widths "
                f"{model.get('edge_channels', [256, 512, 512, 1024])}, emb_dims {model.get('emb_dims', 512)}, "
                f"dropout {model.get('dropout', 0.4)}. {pointnet}."
            )
        if PIPELINE_METHOD not in self.methods:
            return f"- {own} (the pipeline's model) was not trained: {PIPELINE_METHOD} is not a method. {pointnet}."
        return (
            f"- {own}: the user's own network in the pipeline's model place (where this pipeline has RegDGCNN), "
            f"{describe_params(model)}; its metrics are the `{PIPELINE_METHOD}.*` keys and its weights "
            f"`{PIPELINE_METHOD}`. {pointnet}."
        )

    # -- predict ---------------------------------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """New designs must be sampled with the trained number of points (keep the run's ``n_points``)."""
        if tuple(trained.input_shape) != tuple(new.input_shape):
            raise DataError(
                f"the run trained on clouds of shape {tuple(trained.input_shape)}; these designs give "
                f"{tuple(new.input_shape)} (keep the run's dataset.params.n_points)"
            )

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Each method's drag coefficient of every design (``--split test``: the run's test designs, which
        reproduces its metrics exactly). Least squares needs the design parameters the run was fitted on; designs
        without them get no least-squares prediction."""
        import pandas as pd

        state = ctx.load_state("drag")
        info = bundle.info
        ids = [d["design_id"] for d in info["designs"]]
        if ctx.split == "test":
            position = {d: i for i, d in enumerate(ids)}
            missing = [d for d in state["test"] if d not in position]
            if missing:
                raise DataError(
                    f"--split test: these designs lack {len(missing)} of the run's test designs "
                    f"({', '.join(missing[:5])}); predict the run's own dataset"
                )
            members = np.array([position[d] for d in state["test"]], dtype=np.int64)
        else:
            members = np.arange(len(ids), dtype=np.int64)
        targets = ctx.load_arrays("targets")
        scale = (float(targets["offset"][0]), float(targets["scale"][0]))
        cd = np.asarray(info["cd"], dtype=np.float64)
        labelled = bool(info.get("labelled")) and bool(np.isfinite(cd[members]).all())
        table = pd.DataFrame(
            {"design_id": [ids[i] for i in members], "family": [info["designs"][i]["family"] for i in members]}
        )
        if labelled:
            table["cd"] = cd[members]
        predictions: dict[str, np.ndarray] = {}
        timings: dict[str, float] = {}
        own = ctx.own_model_name()
        sections: dict[str, str] = {}
        if own is not None and PIPELINE_METHOD in state["methods"]:
            ctx.log(
                f"{PIPELINE_METHOD}: predicted by {own}, the pipeline's model ({describe_params(ctx.model_params)})"
            )
            sections["Columns"] = (
                f"`{PIPELINE_METHOD}` (and the `{PIPELINE_METHOD}.*` metrics): {own}, the user's own network in the "
                f"pipeline's model place, {describe_params(ctx.model_params)}, with the run's `{PIPELINE_METHOD}` "
                "weights."
            )
        for method in state["methods"]:
            if method in NETWORKS:
                spec = DataSpec((3, int(state["n_points"])), 1, task_type="regression")
                model = ctx.load_weights(method, self._build(ctx, method, spec))
                predictions[method], timings[method] = self._infer(model, info, members, scale)
            elif method == "ols":
                names = list(info.get("parameter_names") or [])
                if info.get("parameters") is None or names != list(state["parameter_names"]):
                    ctx.log("least squares: these designs lack the run's design parameters; no prediction")
                    continue
                fitted = ctx.load_arrays("ols")
                predictions[method], timings[method] = timed(
                    lambda fitted=fitted: apply_least_squares(fitted, info, members), members
                )
            else:
                mean = float(ctx.load_arrays("mean")["mean"][0])
                predictions[method], timings[method] = timed(lambda mean=mean: np.full(len(members), mean), members)
            table[method] = predictions[method]
        metrics: dict[str, float] = {}
        if labelled:
            families = [info["designs"][i]["family"] for i in members]
            metrics = drag_metrics(cd[members], predictions, families, timings)
        return PredictionResult(tables={"drag": table}, metrics=metrics, sections=sections)


# -- helpers ---------------------------------------------------------------------------------------------------


def describe_params(params: dict[str, Any]) -> str:
    """A network's ``model.params`` in words (``model.params k 8, width 32``; its own defaults when empty)."""
    if not params:
        return "with its own defaults (no model.params)"
    return "model.params " + ", ".join(f"{k} {v}" for k, v in params.items())


def check_own_model(model: Any, name: str, clouds: Any) -> None:
    """Refuse (``ConfigError``) a network of the user's own that fails on ``clouds`` ``(B, 3, N)`` or does not give
    one value per cloud (``(B, 1)`` or ``(B,)``); run once in evaluation mode without gradients, before training
    (:func:`sciconv.kit.check_model_output`)."""
    n = int(clouds.shape[0])
    check_model_output(
        model,
        clouds,
        [(n, 1), (n,)],
        needs=f"model: {name} (the pipeline's model) must map point clouds (B, 3 coordinates, N points) to one drag "
        "coefficient per cloud, (B, 1) or (B,)",
    )


def flat_mse(predicted: Any, target: Any) -> Any:
    """The MSE of a network's output ``(B, 1)`` or ``(B,)`` against the targets ``(B, 1)``, both flattened (so that
    a network of the user's own that gives ``(B,)`` is not broadcast against the targets to ``(B, B)``)."""
    import torch.nn.functional as F

    return F.mse_loss(predicted.reshape(-1), target.reshape(-1))


def published_table() -> str:
    """The published DrivAerNet v1 and DrivAerNet++ results as a markdown table (blank where not published)."""
    rows = []
    for record in (*published.DRIVAERNET_V1, *published.DRIVAERNET_PLUS):
        rows.append(
            {
                "method": record.method,
                **{k: (f"{record.metrics[k]:.4g}" if k in record.metrics else "") for k in ("r2", "mse", "mae")},
                "source": record.source,
            }
        )
    return markdown_table(rows)


def drag_metrics(
    true: np.ndarray, predictions: dict[str, np.ndarray], families: list[str], timings: dict[str, float]
) -> dict[str, float]:
    """``<method>.<r2|mse|mae|max_ae>``, ``<method>.infer_ms`` and per family ``<method>.<mae|r2>.<family>``."""
    metrics: dict[str, float] = {}
    for method, predicted in predictions.items():
        for key, value in drag_errors(true, predicted).items():
            metrics[f"{method}.{key}"] = value
        metrics[f"{method}.infer_ms"] = float(timings[method])
        for family, errors in errors_by_family(true, predicted, families).items():
            metrics[f"{method}.mae.{family}"] = float(errors["mae"])
            metrics[f"{method}.r2.{family}"] = float(errors["r2"])
    return metrics


def timed(compute: Any, members: np.ndarray) -> tuple[np.ndarray, float]:
    """``compute()``'s result and its milliseconds per design of ``members``."""
    start = time.perf_counter()
    result = np.asarray(compute(), dtype=np.float64)
    return result, 1000.0 * (time.perf_counter() - start) / max(1, len(members))


def fit_least_squares(parameters: np.ndarray, cd: np.ndarray) -> dict[str, np.ndarray]:
    """Ordinary least squares of ``cd`` ``(n,)`` on ``parameters`` ``(n, p)`` with an intercept (scikit-learn's
    ``LinearRegression``): ``{"coef": (p,), "intercept": (1,)}``."""
    from sklearn.linear_model import LinearRegression

    fitted = LinearRegression().fit(np.asarray(parameters, dtype=np.float64), np.asarray(cd, dtype=np.float64))
    return {"coef": np.asarray(fitted.coef_, dtype=np.float64), "intercept": np.array([float(fitted.intercept_)])}


def apply_least_squares(fitted: dict[str, np.ndarray], info: dict[str, Any], members: np.ndarray) -> np.ndarray:
    """The least-squares Cd of the designs ``members`` from their design parameters."""
    parameters = np.asarray(info["parameters"], dtype=np.float64)[members]
    return parameters @ np.asarray(fitted["coef"]) + float(np.asarray(fitted["intercept"])[0])


def infer(model: Any, inputs: Any, batch_size: int) -> tuple[np.ndarray, float]:
    """A network's outputs ``(n,)`` for inputs ``(n, 3, N)`` in evaluation mode and fixed batches, and the
    milliseconds per design (after one warm-up batch, not counted)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    outputs = []
    with torch.no_grad():
        model(inputs[:batch_size].to(device))  # warm-up: allocations, oneDNN primitive creation
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for first in range(0, len(inputs), batch_size):
            outputs.append(model(inputs[first : first + batch_size].to(device)).reshape(-1).cpu())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return torch.cat(outputs).double().numpy(), 1000.0 * seconds / max(1, len(inputs))
