"""The shape-classification task: E-3DSNN (the spiking network) against its ANN twin, trained on the same shapes,
with the paper's energy account and the measured CPU time of the sparse path against a dense-voxel twin.

Both networks train through the core's engine with the pipeline's ``train`` settings on the cross-entropy with
label smoothing (0.2, the official loss) and the official augmentation (random scale and shift; a random point per
voxel), on the dataset's training shapes; the weights kept are those of the epoch the engine's early-stopping
settings select on the validation shapes (held out of the training folder, never the test shapes). They are
scored on the test shapes: overall accuracy (``acc``) and the mean of the per-class accuracies (``macc``), the two
figures ModelNet papers report.

Energy (:mod:`.energy`): per layer, the rulebook pairs the trained network used on the test shapes, the firing rate
of the neuron feeding it, SOPs and MACs, and the 45 nm energy per sample of the SNN and of the ANN twin.

Time (:mod:`.timing`): milliseconds of CPU (or GPU) time per sample of the sparse network and of its dense-voxel
twin (the same weights on dense grids with ``conv3d``), forward and training step, on the same test batches at the
model's voxel size.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import ConfigError, DataError
from sciconv.kit import accuracy, derive_seed, markdown_table, seed_everything
from sciconv.spec import DataSpec
from sciconv_e3dsnn import published

METHODS = ("snn", "ann")
LABELS = {"snn": "E-3DSNN (spiking, multi-spike neurons)", "ann": "ANN twin (ReLU in place of the neuron)"}


class ShapeClassificationTask(TaskBase):
    """Train E-3DSNN and its ANN twin on the dataset's shapes, account for their energy, time the sparse path.

    Args:
        methods: ``snn`` (the pipeline's model) and / or ``ann`` (the same model with ``neuron: relu``).
        augment: the official training augmentation (scale in ``scale``, shift up to ``shift`` per axis).
        scale, shift: its ranges (unit-sphere radii).
        label_smoothing: of the cross-entropy (the official 0.2).
        eval_batch_size: clouds per forward pass at test time.
        timing_batches, timing_batch_size: test batches on which the sparse network and its dense twin are timed
            (0 batches: no timing).
    """

    def __init__(
        self,
        methods: list[Literal["snn", "ann"]] = list(METHODS),  # noqa: B006
        augment: bool = True,
        scale: tuple[float, float] = (0.9, 1.1),
        shift: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2,
        label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2,
        eval_batch_size: Annotated[int, Field(ge=1)] = 16,
        timing_batches: Annotated[int, Field(ge=0)] = 3,
        timing_batch_size: Annotated[int, Field(ge=1)] = 8,
    ) -> None:
        self.methods = [m for m in METHODS if m in methods]
        self.augment = bool(augment)
        self.scale = (float(scale[0]), float(scale[1]))
        self.shift = float(shift)
        self.label_smoothing = float(label_smoothing)
        self.eval_batch_size = int(eval_batch_size)
        self.timing_batches = int(timing_batches)
        self.timing_batch_size = int(timing_batch_size)

    def validate(self) -> None:
        if not self.methods:
            raise ConfigError(f"task.params.methods: choose at least one of {', '.join(METHODS)}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"task.params.scale: expected 0 < low <= high, got {list(self.scale)}")

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        import torch

        from sciconv_e3dsnn.energy import energy_account
        from sciconv_e3dsnn.models.e3dsnn import count_parameters
        from sciconv_e3dsnn.voxels import ShapeClouds

        data = ctx.load_data()
        info = data.info
        if not info.get("labelled", False):
            raise DataError(
                "e3dsnn: these shapes have no classes (the folder is not in a ModelNet layout), so nothing can be "
                "trained; give a ModelNet folder, or apply a finished run with `pipeline predict`"
            )
        split = {name: np.asarray(info["split_index"][name], dtype=np.int64) for name in ("train", "val", "test")}
        for name in ("train", "test"):
            if len(split[name]) == 0:
                raise DataError(f"e3dsnn: the {name} split holds no shape")
        points, labels, classes = info["points"], np.asarray(info["labels"]), list(info["classes"])
        ctx.log(
            f"{len(labels)} shapes of {len(classes)} classes: {len(split['train'])} train, {len(split['val'])} "
            f"validation, {len(split['test'])} test; {info['n_points']} points each"
        )
        train = ShapeClouds(points[split["train"]], labels[split["train"]], self.augment, self.scale, self.shift)
        val = ShapeClouds(points[split["val"]], labels[split["val"]]) if len(split["val"]) else None
        test = split["test"]
        metrics: dict[str, float] = {}
        predictions: dict[str, np.ndarray] = {}
        accounts: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        models: dict[str, Any] = {}
        for method in self.methods:
            start = time.perf_counter()
            seed_everything(derive_seed(ctx.seed, method))
            model = self._build(ctx, method, data.spec)
            loss = torch.nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
            fit = ctx.fit(model, train, val, loss_fn=loss, metrics={"acc": accuracy}, name=method, drop_last=True)
            model = models[method] = fit.model
            ctx.save_weights(method, model)
            logits, ms = classify(model, points[test], self.eval_batch_size)
            predictions[method] = logits
            accounts[method] = energy_account(model, _batches(model, points[test], self.eval_batch_size))
            seconds[method] = time.perf_counter() - start
            metrics.update(scores(method, labels[test], logits, len(classes)))
            metrics[f"{method}.params"] = float(count_parameters(model))
            metrics[f"{method}.energy_mj"] = float(accounts[method].energy_mj)
            metrics[f"{method}.gops"] = float(accounts[method].ops) * 1e-9
            metrics[f"{method}.infer_ms"] = ms
            if accounts[method].firing_rate is not None:
                metrics[f"{method}.firing_rate"] = float(accounts[method].firing_rate)
                metrics[f"{method}.gsops"] = float(accounts[method].sops) * 1e-9
            ctx.log(f"{method}: test accuracy {metrics[f'{method}.acc']:.3f}")
        timing = None
        if self.timing_batches:
            from sciconv_e3dsnn.timing import time_sparse_and_dense

            reference = models.get("snn") or next(iter(models.values()))
            timing = time_sparse_and_dense(
                reference, points[test], self.timing_batches, self.timing_batch_size, self.label_smoothing
            )
            metrics.update(timing.metrics())
        ctx.save_state(
            "shapes",
            {
                "methods": list(models),
                "classes": classes,
                "test": [info["shapes"][i]["shape_id"] for i in test],
                "n_points": int(info["n_points"]),
            },
        )
        return self._result(ctx, info, split, predictions, metrics, accounts, timing, seconds, models)

    def _build(self, ctx: RunContext | PredictContext, method: str, spec: DataSpec) -> Any:
        return ctx.build_model(spec) if method == "snn" else ctx.build_model(spec, neuron="relu")

    # -- report ----------------------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        split: dict[str, np.ndarray],
        predictions: dict[str, np.ndarray],
        metrics: dict[str, float],
        accounts: dict[str, Any],
        timing: Any,
        seconds: dict[str, float],
        models: dict[str, Any],
    ) -> TaskResult:
        rows = [
            ResultRow(
                LABELS[m],
                {
                    k: metrics[f"{m}.{k}"]
                    for k in ("acc", "macc", "params", "energy_mj", "firing_rate", "infer_ms")
                    if f"{m}.{k}" in metrics
                },
            )
            for m in predictions
        ]
        if info.get("kind") == "folder" and len(info["classes"]) == 40:
            rows += [r.row() for r in published.MODELNET40]
        sections = {
            "Protocol": self._protocol_text(ctx, info, split, seconds, models),
            "Energy per layer (per test sample, 45 nm model)": energy_table(accounts),
        }
        if timing is not None:
            sections["Time per sample: sparse against dense voxels"] = timing.markdown()
        labels = np.asarray(info["labels"])[split["test"]]
        sections["Accuracy per class (test)"] = per_class_table(labels, predictions, info["classes"])
        sections["Published numbers"] = published.NOTE + "\n\n" + published_table()
        plots = []
        if ctx.config.output.plots and accounts:
            from sciconv_e3dsnn.figures import plot_energy_by_layer

            path = plot_energy_by_layer(accounts, ctx.plots_dir / "energy_by_layer.png")
            plots.append(
                (
                    path,
                    "Per layer (test shapes): the firing rate of the spiking neuron feeding each convolution (top) and "
                    "the energy per sample of the SNN and its ANN twin (bottom, log scale).",
                )
            )
        model = models.get("snn") or next(iter(models.values()))
        return TaskResult(metrics=metrics, model=model, table=rows, plots=plots, sections=sections)

    def _protocol_text(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        split: dict[str, np.ndarray],
        seconds: dict[str, float],
        models: dict[str, Any],
    ) -> str:
        train = ctx.config.train
        params = ctx.model_params
        model = next(iter(models.values()))
        source = {"simulated": "simulated shapes (OFF meshes in the ModelNet layout)", "folder": info["root"]}
        lines = [
            f"- Data: {len(info['labels'])} shapes of {len(info['classes'])} classes from "
            f"{source.get(info['kind'], info['root'])} ({info['layout']} layout); split {len(split['train'])} / "
            f"{len(split['val'])} / {len(split['test'])} (train / validation held out of the training shapes / "
            "test).",
            f"- Spike Voxel Coding: {info['n_points']} points per shape (xyz and normals) on the unit sphere, "
            f"grid-sampled at {model.voxel_size:g} (a random point per voxel in training, the first at test); "
            "augmentation " + (f"scale {list(self.scale)}, shift ±{self.shift:g}" if self.augment else "off") + ".",
            f"- Network: preset {params.get('preset', 'T')}"
            + "".join(f", {k} {params[k]}" for k in ("embed_channels", "stage_channels", "depths") if k in params)
            + f", D = {model.max_spikes}.",
            f"- Training: {train.epochs} epochs, batch {train.batch_size}, {train.optimizer} lr {train.lr:g}"
            + (" (Nesterov)" if train.nesterov else "")
            + f", weight decay {train.weight_decay:g}, schedule {train.scheduler.name}"
            + (f" at {train.scheduler.milestones} x{train.scheduler.gamma:g}" if train.scheduler.milestones else "")
            + f"; cross-entropy with label smoothing {self.label_smoothing:g}.",
            "- Time per method (training and testing): "
            + ", ".join(f"{m.upper()} {s:.0f} s" for m, s in seconds.items())
            + ".",
        ]
        return "\n".join(lines)

    # -- predict ---------------------------------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """New shapes need the trained point features (6: xyz and normals); their number of points may differ."""
        if tuple(trained.input_shape)[1:] != tuple(new.input_shape)[1:]:
            raise DataError(
                f"the run trained on clouds of {trained.input_shape[1]} features per point; these shapes have "
                f"{new.input_shape[1]}"
            )

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Each network's class of every shape (``--split test``: the run's test shapes, which reproduces its
        accuracies exactly)."""
        import pandas as pd

        state = ctx.load_state("shapes")
        info = bundle.info
        ids = [s["shape_id"] for s in info["shapes"]]
        classes = list(state["classes"])
        if ctx.split == "test":
            position = {d: i for i, d in enumerate(ids)}
            missing = [d for d in state["test"] if d not in position]
            if missing:
                raise DataError(
                    f"--split test: these shapes lack {len(missing)} of the run's test shapes "
                    f"({', '.join(missing[:5])}); predict the run's own dataset"
                )
            members = np.array([position[d] for d in state["test"]], dtype=np.int64)
        else:
            members = np.arange(len(ids), dtype=np.int64)
        labelled = bool(info.get("labelled")) and list(info.get("classes", [])) == classes
        table = pd.DataFrame(
            {"shape_id": [ids[i] for i in members], "path": [info["shapes"][i]["path"] for i in members]}
        )
        if labelled:
            table["class"] = [classes[int(info["labels"][i])] for i in members]
        spec = DataSpec((int(info["n_points"]), 6), len(classes), task_type="classification", classes=tuple(classes))
        metrics: dict[str, float] = {}
        for method in state["methods"]:
            model = ctx.load_weights(method, self._build(ctx, method, spec))
            logits, ms = classify(model, info["points"][members], self.eval_batch_size)
            probabilities = _softmax(logits)
            table[f"{method}_class"] = [classes[k] for k in logits.argmax(axis=1)]
            table[f"{method}_probability"] = probabilities.max(axis=1)
            if labelled:
                metrics.update(scores(method, np.asarray(info["labels"])[members], logits, len(classes)))
                metrics[f"{method}.infer_ms"] = ms
        return PredictionResult(tables={"classes": table}, metrics=metrics)


# -- helpers ---------------------------------------------------------------------------------------------------


def published_table() -> str:
    """The published E-3DSNN figures as a markdown table (blank where not published)."""
    keys = {"snn.acc": "accuracy", "snn.params": "parameters", "snn.energy_mj": "SNN mJ", "ann.energy_mj": "ANN mJ"}
    rows = []
    for record in published.MODELNET40:
        metrics = dict(record.metrics)
        if "ann.acc" in metrics:
            metrics["snn.acc"] = metrics.pop("ann.acc")
        row: dict[str, Any] = {"method": record.method}
        for key, label in keys.items():
            value = metrics.get(key)
            if value is None:
                row[label] = ""
            elif key == "snn.acc":
                row[label] = f"{100 * value:.1f} %"
            elif key == "snn.params":
                row[label] = f"{value / 1e6:.2f} M"
            else:
                row[label] = f"{value:g}"
        row["source"] = record.source
        rows.append(row)
    return markdown_table(rows)


def _batches(model: Any, clouds: np.ndarray, batch_size: int) -> Any:
    """Evaluation input dicts of ``clouds`` (n, P, 6) in batches (the first point per voxel)."""
    import torch

    from sciconv_e3dsnn.voxels import clouds_to_voxels

    for first in range(0, len(clouds), batch_size):
        yield clouds_to_voxels(
            torch.from_numpy(np.ascontiguousarray(clouds[first : first + batch_size])), model.voxel_size
        )


def classify(model: Any, clouds: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """A network's logits ``(n, classes)`` for clouds ``(n, P, 6)`` in evaluation mode and fixed batches, and the
    milliseconds per cloud (grid sampling included; after one warm-up batch, not counted)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    tensor = torch.from_numpy(np.ascontiguousarray(clouds, dtype=np.float32))
    outputs = []
    with torch.no_grad():
        model(tensor[:batch_size].to(device))  # warm-up: allocations, native kernels
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for first in range(0, len(tensor), batch_size):
            outputs.append(model(tensor[first : first + batch_size].to(device)).cpu())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return torch.cat(outputs).double().numpy(), 1000.0 * seconds / max(1, len(tensor))


def scores(method: str, labels: np.ndarray, logits: np.ndarray, n_classes: int) -> dict[str, float]:
    """``<method>.acc`` (overall accuracy) and ``<method>.macc`` (mean over the classes present of the per-class
    accuracy)."""
    predicted = logits.argmax(axis=1)
    correct = predicted == labels
    present = [c for c in range(n_classes) if (labels == c).any()]
    per_class = [float(correct[labels == c].mean()) for c in present]
    return {f"{method}.acc": float(correct.mean()), f"{method}.macc": float(np.mean(per_class))}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def energy_table(accounts: dict[str, Any]) -> str:
    """The per-layer account of each network as one markdown table, and the totals."""
    if not accounts:
        return "No network was trained."
    snn, ann = accounts.get("snn"), accounts.get("ann")
    reference = snn or ann
    rows = []
    for i, layer in enumerate(reference.layers):
        row: dict[str, Any] = {
            "layer": layer.name,
            "conv": layer.kind,
            "C_in → C_out": f"{layer.c_in} → {layer.c_out}",
            "sites in / out": f"{layer.sites_in:.0f} / {layer.sites_out:.0f}",
            "pairs": f"{layer.pairs:.0f}",
            "MOPs": f"{layer.ops * 1e-6:.2f}",
        }
        if snn is not None:
            s = snn.layers[i]
            row["firing rate"] = "MAC input" if s.firing_rate is None else f"{s.firing_rate:.3f}"
            row["SNN µJ"] = f"{s.energy_pj * 1e-6:.3f}"
        if ann is not None:
            row["ANN µJ"] = f"{ann.layers[i].energy_pj * 1e-6:.3f}"
        rows.append(row)
    totals = []
    for name, account in accounts.items():
        line = f"- {name.upper()}: {account.energy_mj:.4f} mJ per sample, {account.ops * 1e-9:.3f} G operations"
        if account.firing_rate is not None:
            line += f", {account.sops * 1e-9:.3f} G SOPs, mean firing rate {account.firing_rate:.3f}"
        totals.append(line + f" (over {account.samples} test shapes).")
    if snn is not None and ann is not None and snn.energy_mj > 0:
        totals.append(f"- The ANN twin needs {ann.energy_mj / snn.energy_mj:.1f}x the SNN's energy by this model.")
    note = (
        "Operations per layer = 2 x rulebook pairs x C_in x C_out (the pairs the network used on the test shapes). "
        "A layer fed by spikes costs 0.9 pJ x firing rate x D x operations; the first convolution (voxel features) "
        "and the head (membrane potentials) cost 4.6 pJ x operations, as does every layer of the ANN twin. A model "
        "of 45 nm hardware, not a measurement: the measured CPU times are in the next section."
    )
    return markdown_table(rows) + "\n\n" + "\n".join(totals) + "\n\n" + note


def per_class_table(labels: np.ndarray, predictions: dict[str, np.ndarray], classes: list[str]) -> str:
    rows = []
    for c, name in enumerate(classes):
        members = labels == c
        if not members.any():
            continue
        row: dict[str, Any] = {"class": name, "test shapes": int(members.sum())}
        for method, logits in predictions.items():
            row[f"{method.upper()} accuracy"] = f"{float((logits[members].argmax(axis=1) == c).mean()):.2f}"
        rows.append(row)
    return markdown_table(rows)
