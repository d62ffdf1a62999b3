"""The recognition task: CMoE, RCMoE, the plain ResNet-18 and a classical baseline on the same recording-level
splits, with the metrics a sonar researcher reads (segment accuracy and macro-F1, recording accuracy by majority
vote, per-class recall, confusion matrices, and which expert each class is routed to), as mean ± SD over folds or
seeds.

Protocols (``protocol``):

- ``kfold``: stratified k-fold cross-validation over recordings (:class:`sklearn.model_selection.StratifiedGroupKFold`),
  grouped by ship where every recording names its ship (``group_by: ship``), so no ship is heard in training and
  test; ``n_seeds`` > 1 repeats it with other shuffles. No segment of a test recording is ever trained on.
- ``split``: the dataset's fixed train / test split by recording (ShipsEar's published split), trained ``n_seeds``
  times with different seeds; the SD is then over seeds.

Inputs are the dataset's log spectrograms, standardised per frequency band with the training segments' mean and
SD (per fold; kept for predict). Every network is trained with the pipeline's ``train`` settings through the core's
engine (cross-entropy; the mixtures' balance loss is the model's ``auxiliary_loss``, which the engine adds).

The ``cmoe`` method is the pipeline's model, which may be your own (``pipe.model = MyNet``): a model with
``forward_with_routes(x) -> (logits, route)`` is scored as a mixture of experts (routing metrics, tables and plot);
any other ``(B, 1, n_bands, n_frames) -> (B, n_classes)`` network is trained and scored as a plain classifier. A
model other than the registered CMoE is named in the report by its class.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed, markdown_table, seed_everything
from sciconv.spec import DataSpec
from sciconv_uatr import published
from sciconv_uatr.recognition_metrics import aggregate, fold_metrics, majority_vote, routing_counts

METHODS = ("cmoe", "rcmoe", "resnet", "classical")
NETWORKS = ("cmoe", "rcmoe", "resnet")
MIXTURES = ("cmoe", "rcmoe")
METHOD_LABELS = {
    "cmoe": "CMoE (ResNet-18 + mixture of experts)",
    "rcmoe": "RCMoE (CMoE + residual expert)",
    "resnet": "ResNet-18",
    "classical": "classical (LOFAR + DEMON + MFCC statistics, logistic regression)",
}
SHORT_LABELS = {"cmoe": "CMoE", "rcmoe": "RCMoE", "resnet": "ResNet-18", "classical": "classical"}


@dataclass
class Fold:
    """One train / test partition of the recordings (indices into ``info["recordings"]``) and its seed."""

    name: str
    seed: int
    train: list[int]
    test: list[int]


class RecognitionTask(TaskBase):
    """Train and compare the methods on recording-level folds (see the module docstring).

    Args:
        methods: which of ``cmoe``, ``rcmoe``, ``resnet``, ``classical`` to run. ``cmoe`` is the pipeline's
            model (its ``model`` section, or your own ``pipe.model``; a plain classifier where it has no
            ``forward_with_routes``); ``rcmoe`` is the same model with ``residual=true`` (refused for a model
            without a ``residual`` parameter); ``resnet`` is ``uatr.resnet18`` with the same backbone widths
            (``model.params.widths`` where given).
        protocol: ``kfold`` (cross-validation by recording or ship) or ``split`` (the dataset's fixed split).
        n_folds: folds of ``kfold``.
        n_seeds: repetitions (other shuffles for ``kfold``, other initialisations for ``split``).
        group_by: ``ship`` (keep a ship's recordings in one fold where the metadata names every ship; otherwise
            by recording, said in the log and the report) or ``recording``.
        classical_c: inverse L2 strength of the classical baseline's logistic regression.
        eval_batch_size: segments per forward pass at test time.
        remove_level: subtract each segment's mean level (dB over bands and frames) from its spectrogram: the
            received level depends on the range of the ship, not on its class.
    """

    def __init__(
        self,
        methods: list[Literal["cmoe", "rcmoe", "resnet", "classical"]] = list(METHODS),  # noqa: B006
        protocol: Literal["kfold", "split"] = "kfold",
        n_folds: Annotated[int, Field(ge=2, le=20)] = 3,
        n_seeds: Annotated[int, Field(ge=1, le=20)] = 1,
        group_by: Literal["ship", "recording"] = "ship",
        classical_c: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1.0,
        eval_batch_size: Annotated[int, Field(ge=1)] = 64,
        remove_level: bool = False,
    ) -> None:
        self.methods = [m for m in METHODS if m in methods]
        self.protocol = protocol
        self.n_folds = int(n_folds)
        self.n_seeds = int(n_seeds)
        self.group_by = group_by
        self.classical_c = float(classical_c)
        self.eval_batch_size = int(eval_batch_size)
        self.remove_level = bool(remove_level)
        self._labels = dict(METHOD_LABELS)
        self._short_labels = dict(SHORT_LABELS)
        self._own_model: tuple[str, bool] | None = None  # a pipeline model other than CMoE: class name, aux. loss

    def validate(self) -> None:
        if not self.methods:
            raise ConfigError(f"task.params.methods: choose at least one of {', '.join(METHODS)}")

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        self._check_pipeline_model(ctx)
        self._labels, self._short_labels = dict(METHOD_LABELS), dict(SHORT_LABELS)
        self._own_model = None
        data = ctx.load_data()
        info = _check_bundle(data, ctx.config.dataset.params.get("root"))
        classes = list(info["classes"])
        x_all = self._inputs(data.train.tensors[0])
        y_all = data.train.tensors[1].numpy()
        owner = info["segment_recording"]
        folds, grouping = self._folds(info, ctx.seed)
        ctx.log(
            f"{len(info['recordings'])} recordings, {len(y_all)} segments of {info['features']['segment_s']:g} s, "
            f"{len(classes)} classes; {len(folds)} folds ({self.protocol}, grouped by {grouping})"
        )
        spec = data.spec
        per_fold: dict[str, list[dict[str, Any]]] = {m: [] for m in self.methods}
        # per method whose model routes (forward_with_routes), each fold's (test segment indices, routes)
        routes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        train_seconds: dict[str, float] = {m: 0.0 for m in self.methods}
        model = None
        for fold in folds:
            train = np.isin(owner, fold.train)
            test = np.isin(owner, fold.test)
            missing = sorted(set(range(len(classes))) - set(np.unique(y_all[train]).tolist()))
            if missing:
                ctx.log(f"{fold.name}: no training recording of {', '.join(classes[i] for i in missing)}")
            mean, std = band_statistics(x_all[train].numpy())
            ctx.save_arrays(f"norm-{fold.name}", {"mean": mean, "std": std})
            x_train = standardise(x_all[train], mean, std)
            x_test = standardise(x_all[test], mean, std)
            for method in self.methods:
                start = time.perf_counter()
                if method == "classical":
                    outcome = self._classical(ctx, fold, info["classical"], y_all, train, test, len(classes))
                else:
                    model = self._train_network(ctx, method, spec, fold, x_train, y_all[train])
                    if method in MIXTURES:
                        self._name_pipeline_model(method, model)
                    outcome = infer(model, x_test, self.eval_batch_size)
                train_seconds[method] += time.perf_counter() - start
                per_fold[method].append(
                    fold_metrics(y_all[test], outcome["predicted"], owner[test], len(classes), outcome["probabilities"])
                )
                if "route" in outcome:
                    routes.setdefault(method, []).append((np.flatnonzero(test), outcome["route"]))
            ctx.log(
                f"{fold.name}: "
                + ", ".join(
                    f"{m} {per_fold[m][-1]['acc']:.3f} ({per_fold[m][-1]['recording_acc']:.2f} rec.)"
                    for m in self.methods
                )
            )
        n_experts = _n_experts(ctx.model_params, routes)
        # the first fold's routing only: expert indices differ between models
        routing = {
            m: routing_counts(y_all[index], route, len(classes), n_experts)
            for m, [(index, route), *_] in routes.items()
        }
        ctx.save_state(
            "recognition",
            {
                "classes": classes,
                "methods": self.methods,
                "folds": [
                    {
                        "name": f.name,
                        "seed": f.seed,
                        "train": [info["recordings"][i]["recording_id"] for i in f.train],
                        "test": [info["recordings"][i]["recording_id"] for i in f.test],
                    }
                    for f in folds
                ],
                "grouping": grouping,
                "n_experts": n_experts if routes else None,
                "routed": sorted(routes),
            },
        )
        metrics = aggregate(per_fold, classes)
        specialisation = routing_specialisation(routes, y_all, info)
        metrics.update(specialisation.metrics)
        return self._result(
            ctx, info, folds, grouping, per_fold, routing, metrics, train_seconds, model, specialisation.tables
        )

    def _inputs(self, x: Any) -> Any:
        """The networks' inputs before standardisation: with ``remove_level``, each segment less its mean level."""
        return x - x.mean(dim=(1, 2, 3), keepdim=True) if self.remove_level else x

    def _folds(self, info: dict[str, Any], seed: int) -> tuple[list[Fold], str]:
        """The folds, and what they are grouped by (``ship`` or ``recording``)."""
        recordings = info["recordings"]
        n = len(recordings)
        if self.protocol == "split":
            split = info.get("split")
            if not split:
                raise ConfigError(
                    "task.params.protocol=split: this dataset has no fixed train / test split; use protocol=kfold"
                )
            train = [i for i, r in enumerate(recordings) if split.get(r["recording_id"]) == "train"]
            test = [i for i, r in enumerate(recordings) if split.get(r["recording_id"]) == "test"]
            if not train or not test:
                raise DataError(f"the dataset's split has {len(train)} training and {len(test)} test recordings")
            folds = [Fold(f"seed{s}", derive_seed(seed, f"seed{s}"), train, test) for s in range(self.n_seeds)]
            return folds, "the dataset's fixed split"
        from sklearn.model_selection import StratifiedGroupKFold

        labels = np.array([info["classes"].index(r["label"]) for r in recordings])
        by_ship = self.group_by == "ship" and info["group_by_ship"]
        groups = np.array([r["ship"] if by_ship else r["recording_id"] for r in recordings])
        n_groups = len(set(groups.tolist()))
        if n_groups < self.n_folds:
            raise DataError(
                f"task.params.n_folds={self.n_folds}: the data hold only {n_groups} "
                f"{'ships' if by_ship else 'recordings'} ({n} recordings); lower n_folds"
            )
        folds: list[Fold] = []
        for s in range(self.n_seeds):
            fold_seed = derive_seed(seed, f"folds{s}")
            splitter = StratifiedGroupKFold(n_splits=self.n_folds, shuffle=True, random_state=fold_seed % 2**31)
            for k, (train, test) in enumerate(splitter.split(np.zeros(n), labels, groups)):
                name = f"s{s}f{k}" if self.n_seeds > 1 else f"fold{k}"
                folds.append(Fold(name, derive_seed(seed, name), sorted(train.tolist()), sorted(test.tolist())))
        return folds, ("ship" if by_ship else "recording")

    def _check_pipeline_model(self, ctx: RunContext) -> None:
        """Refuse, before any training, ``rcmoe`` with a pipeline model that takes no ``residual`` parameter."""
        if "rcmoe" not in self.methods:
            return
        factory = ctx.model_factory
        try:
            parameters = inspect.signature(factory).parameters.values()
        except (TypeError, ValueError):  # no signature to read: let the build say what is wrong
            return
        if any(p.name == "residual" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return
        name = getattr(factory, "__qualname__", type(factory).__name__)
        raise ConfigError(
            f"task.params.methods: rcmoe is the pipeline's model with residual=true, but the model {name} takes no "
            "residual parameter; drop rcmoe from task.params.methods (cmoe trains your model as it is)"
        )

    def _name_pipeline_model(self, method: str, model: Any) -> None:
        """Label ``method``'s rows and panels by the class of the pipeline's model when it is not the registered
        CMoE (``MyNet``, or ``MyNet, residual=true`` for ``rcmoe``)."""
        from sciconv_uatr.models.cmoe import CMoE

        if type(model) is CMoE:
            return
        name = type(model).__name__
        self._own_model = (name, callable(getattr(model, "auxiliary_loss", None)))
        kind = "mixture of experts" if hasattr(model, "forward_with_routes") else "no routing"
        residual = ", residual=true" if method == "rcmoe" else ""
        self._labels[method] = f"{name} (the pipeline's model{residual}, {kind})"
        self._short_labels[method] = f"{name}{residual}"

    def _model_params(self, ctx: RunContext | PredictContext, method: str) -> tuple[str | None, dict[str, Any]]:
        """The registered model name (``None``: the pipeline's) and parameters of a network method."""
        params = dict(ctx.model_params)
        if method == "cmoe":
            return None, {}
        if method == "rcmoe":
            return None, {"residual": True}
        widths = params.get("widths")
        return "uatr.resnet18", ({"widths": widths} if widths is not None else {})

    def _build(self, ctx: RunContext | PredictContext, method: str, spec: DataSpec) -> Any:
        name, params = self._model_params(ctx, method)
        return ctx.build_model(spec, name=name, **params) if name else ctx.build_model(spec, **params)

    def _train_network(self, ctx: RunContext, method: str, spec: DataSpec, fold: Fold, x: Any, y: np.ndarray) -> Any:
        import torch
        from torch.utils.data import TensorDataset

        seed_everything(derive_seed(fold.seed, method))
        model = self._build(ctx, method, spec)
        trained = ctx.fit(model, TensorDataset(x, torch.from_numpy(y)), name=f"{method}-{fold.name}").model
        ctx.save_weights(f"{method}-{fold.name}", trained)
        return trained

    def _classical(
        self,
        ctx: RunContext,
        fold: Fold,
        features: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
        n_classes: int,
    ) -> dict[str, np.ndarray]:
        from sciconv_uatr.baselines import ClassicalClassifier

        classifier = ClassicalClassifier(C=self.classical_c, seed=fold.seed % 2**31).fit(features[train], y[train])
        ctx.save_arrays(f"classical-{fold.name}", classifier.to_arrays())
        return classical_outcome(classifier, features[test], n_classes)

    # -- report ----------------------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        folds: list[Fold],
        grouping: str,
        per_fold: dict[str, list[dict[str, Any]]],
        routing: dict[str, np.ndarray],
        metrics: dict[str, float],
        train_seconds: dict[str, float],
        model: Any,
        routing_tables: dict[str, str],
    ) -> TaskResult:
        from sciconv_uatr.recognition_figures import plot_confusions, plot_routing

        classes = list(info["classes"])
        unit = (
            "folds"
            if self.protocol == "kfold" and self.n_seeds == 1
            else "seeds"
            if self.protocol == "split"
            else "folds x seeds"
        )
        rows = []
        for method in self.methods:
            rows.append(
                ResultRow(
                    self._labels[method],
                    {
                        "acc": _pm(metrics, method, "acc"),
                        "macro_f1": _pm(metrics, method, "macro_f1"),
                        "recording_acc": _pm(metrics, method, "recording_acc"),
                    },
                )
            )
        rows.append(
            ResultRow(
                "chance (largest class's share of test segments)",
                {"acc": _chance(per_fold, self.methods)},
                source="majority class",
            )
        )
        dataset = ctx.config.dataset.name
        if dataset == "uatr.shipsear":
            rows += [record.row() for record in published.SHIPSEAR_9CLASS]
        plots = []
        if ctx.config.output.plots:
            confusions = {m: sum(f["confusion"] for f in per_fold[m]) for m in self.methods}
            plots.append(
                (
                    plot_confusions(confusions, classes, self._short_labels, ctx.plots_dir / "confusion.png"),
                    f"Confusion matrices of the test segments, summed over the {len(folds)} {unit} (rows: true class, "
                    "shaded by the share of that class's segments; numbers: segment counts).",
                )
            )
            if routing:
                plots.append(
                    (
                        plot_routing(routing, classes, self._short_labels, ctx.plots_dir / "routing.png"),
                        "Which expert each class's test segments were routed to by the first fold's model (share "
                        "per class; expert numbers differ between models, so folds are not summed). The paper's "
                        "argument is that experts specialise: rows concentrated on few, different experts.",
                    )
                )
        recall_rows = [
            {"class": name, **{m: _fmt(metrics.get(f"{m}.recall.{name}")) for m in self.methods}} for name in classes
        ]
        sections = {
            "Protocol": self._protocol_text(ctx, info, folds, grouping, train_seconds, routing),
            "Per-class recall (mean over folds)": markdown_table(recall_rows),
        }
        if routing:
            sections["Routing of classes to experts (test segments, first fold)"] = routing_table(routing, classes)
            sections.update(routing_tables)
        if dataset == "uatr.shipsear":
            sections["Published numbers"] = published.SHIPSEAR_NOTE
        return TaskResult(metrics=metrics, model=model, table=rows, plots=plots, sections=sections)

    def _protocol_text(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        folds: list[Fold],
        grouping: str,
        seconds: dict[str, float],
        routing: dict[str, np.ndarray],
    ) -> str:
        features = info["features"]
        train = ctx.config.train
        counts: dict[str, int] = {}
        for r in info["recordings"]:
            counts[r["label"]] = counts.get(r["label"], 0) + 1
        lines = [
            f"- Data: {len(info['recordings'])} recordings ("
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + f"), cut into {features['segment_s']:g} s segments every {features['segment_hop_s']:g} s: "
            f"{len(info['segment_recording'])} segments.",
            f"- Features (our choice; the paper does not publish frame sizes or filter counts): {features['kind']} "
            f"log-power spectrogram, {features['n_bands']} bands, {features['frame_s'] * 1000:g} ms frames every "
            f"{features['hop_s'] * 1000:g} ms at "
            f"{features['sample_rate']} Hz, standardised per band with each fold's training segments.",
            f"- Splits: {len(folds)} {'folds' if self.protocol == 'kfold' else 'seeds of the fixed split'}, grouped by "
            f"{grouping}: no recording{' and no ship' if grouping == 'ship' else ''} is in a fold's training and "
            "test sets at once (tested). Recording accuracy: the class most of a recording's test segments were "
            "given (ties: the larger summed probability).",
            f"- Training: {train.epochs} epochs, batch {train.batch_size}, {train.optimizer} lr {train.lr:g}, "
            f"weight decay {train.weight_decay:g}{self._model_text(ctx, routing)}.",
            "- Time spent per method (training and testing, all folds): "
            + ", ".join(f"{m} {seconds[m]:.0f} s" for m in self.methods)
            + ".",
        ]
        if self.group_by == "ship" and grouping != "ship" and self.protocol == "kfold":
            lines.append(
                "- The metadata do not name the ship of every recording (the public DeepShip copy's metafile rows "
                "do not map one-to-one to its WAV names), so folds are grouped by recording only: two passages of "
                "one ship may fall in training and test."
            )
        return "\n".join(lines)

    def _model_text(self, ctx: RunContext, routing: dict[str, np.ndarray]) -> str:
        """The protocol's words on the pipeline's model (``cmoe`` / ``rcmoe``), or ``""`` where neither ran."""
        mixtures = [m for m in MIXTURES if m in self.methods]
        if not mixtures:
            return ""
        params = ctx.model_params
        if self._own_model is None:  # the registered CMoE
            return (
                f"; CMoE with {int(params.get('experts', 8))} experts, {params.get('router', 'sigmoid')} router, "
                f"hard top-1 routing, balance loss weight {params.get('balance_weight', 0.01)}"
            )
        name, auxiliary = self._own_model
        given = ", ".join(f"{k}={v}" for k, v in params.items()) or "its default parameters"
        if routing:
            n = next(iter(routing.values())).shape[1]
            how = f"a mixture of {n} experts (each segment's expert from its forward_with_routes)"
        else:
            how = "a plain classifier (no forward_with_routes, so no routing metrics)"
        extra = "; its auxiliary_loss is added to the cross-entropy" if auxiliary else ""
        return f"; the pipeline's model {name} ({given}), {how}{extra}"

    # -- predict ---------------------------------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """The new segments must have the trained spectrogram shape and rate; their classes may be any subset of
        the trained classes (or none: unlabelled recordings, ``spec.extra["labelled"]`` false)."""
        if tuple(trained.input_shape) != tuple(new.input_shape) or trained.sfreq != new.sfreq:
            raise DataError(
                f"the run trained on spectrograms {tuple(trained.input_shape)} at {trained.sfreq:g} Hz; these data "
                f"give {tuple(new.input_shape)} at {new.sfreq:g} Hz (keep the run's dataset.params for segments and "
                "features)"
            )
        if not new.extra.get("labelled", True):
            return
        unknown = sorted(set(new.classes or ()) - set(trained.classes or ()))
        if unknown:
            raise DataError(
                f"classes {', '.join(unknown)} were not trained (the run knows {', '.join(trained.classes or ())})"
            )

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Per segment and per recording, the class each method predicts (and the expert each mixture chose).

        With ``--split test``, each fold's test recordings are predicted by that fold's models, which reproduces
        the run's metrics exactly; otherwise every recording is predicted by the models of the run's last fold."""
        import pandas as pd

        state = ctx.load_state("recognition")
        classes = list(state["classes"])
        info = bundle.info
        labelled = bool(info.get("labelled")) and ctx.split in ("test", "all")
        x_all = self._inputs(bundle.train.tensors[0])
        new_classes = info.get("classes") or []
        y_new = bundle.train.tensors[1].numpy()
        y_all = np.array([classes.index(new_classes[v]) if v >= 0 else -1 for v in y_new], dtype=np.int64)
        owner = info["segment_recording"]
        ids = [r["recording_id"] for r in info["recordings"]]
        folds = state["folds"]
        if ctx.split == "test":
            position = {rid: i for i, rid in enumerate(ids)}
            missing = sorted({rid for f in folds for rid in f["test"]} - set(ids))
            if missing:
                raise DataError(
                    f"--split test: the data lack {len(missing)} of the run's test recordings "
                    f"({', '.join(missing[:5])}); predict the run's own dataset"
                )
            plan = [(f, [position[rid] for rid in f["test"]]) for f in folds]
        else:
            plan = [(folds[-1], list(range(len(ids))))]
        per_fold: dict[str, list[dict[str, Any]]] = {m: [] for m in state["methods"]}
        segment_rows: list[pd.DataFrame] = []
        recording_rows: list[dict[str, Any]] = []
        for record, members in plan:
            fold = Fold(record["name"], int(record["seed"]), [], members)
            mask = np.isin(owner, members)
            norm = ctx.load_arrays(f"norm-{fold.name}")
            x = standardise(x_all[mask], norm["mean"], norm["std"])
            table = pd.DataFrame(
                {
                    "recording_id": [ids[i] for i in owner[mask]],
                    "start_s": info["segment_start_s"][mask],
                    "fold": fold.name,
                }
            )
            if labelled:
                table.insert(1, "label", [classes[v] for v in y_all[mask]])
            votes_by_method = {}
            for method in state["methods"]:
                if method == "classical":
                    from sciconv_uatr.baselines import ClassicalClassifier

                    classifier = ClassicalClassifier.from_arrays(ctx.load_arrays(f"classical-{fold.name}"))
                    outcome = classical_outcome(classifier, info["classical"][mask], len(classes))
                else:
                    spec = DataSpec(tuple(x.shape[1:]), len(classes), classes=tuple(classes))
                    model = ctx.load_weights(f"{method}-{fold.name}", self._build(ctx, method, spec))
                    outcome = infer(model, x, self.eval_batch_size)
                table[method] = [classes[v] for v in outcome["predicted"]]
                table[f"{method}.p"] = outcome["probabilities"][np.arange(int(mask.sum())), outcome["predicted"]]
                if "route" in outcome:
                    table[f"{method}.expert"] = outcome["route"]
                votes_by_method[method] = majority_vote(owner[mask], outcome["predicted"], outcome["probabilities"])
                if labelled:
                    per_fold[method].append(
                        fold_metrics(
                            y_all[mask], outcome["predicted"], owner[mask], len(classes), outcome["probabilities"]
                        )
                    )
            segment_rows.append(table)
            for r in members:
                row: dict[str, Any] = {"recording_id": ids[r], "fold": fold.name}
                if labelled:
                    row["label"] = info["recordings"][r]["label"]
                row["n_segments"] = int(np.sum(owner == r))
                for method, votes in votes_by_method.items():
                    row[method] = classes[votes[r]] if r in votes else ""
                recording_rows.append(row)
        metrics: dict[str, float] = {}
        if labelled and ctx.split == "test":
            metrics = aggregate(per_fold, classes)
        elif labelled:
            metrics = {
                f"{m}.{k}": float(np.mean([f[k] for f in folds_]))
                for m, folds_ in per_fold.items()
                for k in ("acc", "macro_f1", "recording_acc")
            }
        return PredictionResult(
            tables={"segments": pd.concat(segment_rows, ignore_index=True), "recordings": pd.DataFrame(recording_rows)},
            metrics=metrics,
        )


# -- helpers ---------------------------------------------------------------------------------------------------


def band_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and SD of spectrograms ``(n, 1, n_bands, n_frames)`` over segments and frames, each
    ``(n_bands,)`` float32 (SD floored at 1e-3 dB)."""
    mean = x.mean(axis=(0, 1, 3), dtype=np.float64).astype(np.float32)
    std = np.maximum(x.std(axis=(0, 1, 3), dtype=np.float64), 1e-3).astype(np.float32)
    return mean, std


def standardise(x: Any, mean: Any, std: Any) -> Any:
    """``(x - mean) / std`` per band: ``x`` ``(n, 1, n_bands, n_frames)`` tensor, ``mean``/``std`` ``(n_bands,)``."""
    import torch

    m = torch.as_tensor(np.asarray(mean, dtype=np.float32))[None, None, :, None]
    s = torch.as_tensor(np.asarray(std, dtype=np.float32))[None, None, :, None]
    return (x - m) / s


def infer(model: Any, x: Any, batch_size: int) -> dict[str, np.ndarray]:
    """A network's ``predicted`` classes ``(n,)``, softmax ``probabilities`` ``(n, n_classes)`` and, for a
    mixture, the ``route`` ``(n,)`` of each segment; evaluation mode, no gradients, fixed batches."""
    import torch

    model.eval()
    probabilities, routes = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            if hasattr(model, "forward_with_routes"):
                logits, route = model.forward_with_routes(batch)
                routes.append(route.cpu().numpy())
            else:
                logits = model(batch)
            probabilities.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    p = np.concatenate(probabilities) if probabilities else np.zeros((0, 1), np.float32)
    out = {"predicted": p.argmax(axis=1).astype(np.int64), "probabilities": p}
    if routes:
        out["route"] = np.concatenate(routes).astype(np.int64)
    return out


def classical_outcome(classifier: Any, features: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """The classical baseline's predictions in the same form as :func:`infer` (probabilities over all
    ``n_classes``, zero for a class its training fold lacked)."""
    proba = classifier.predict_proba(features)
    full = np.zeros((len(features), n_classes))
    full[:, np.asarray(classifier.classes_, dtype=np.int64)] = proba
    return {"predicted": full.argmax(axis=1).astype(np.int64), "probabilities": full}


@dataclass
class Specialisation:
    """How much the mixtures' routes say about the class (and, for simulated ships, the subtype): metrics
    ``<m>.routing_ami_class`` / ``<m>.routing_ami_subtype`` (adjusted mutual information between a test segment's
    expert and its class or subtype, mean over folds: corrected for chance, so that labelings with more values
    are not favoured; 0: routes independent of it, 1: the routes are the labeling) and report tables."""

    metrics: dict[str, float]
    tables: dict[str, str]


def routing_specialisation(
    routes: dict[str, list[tuple[np.ndarray, np.ndarray]]], y: np.ndarray, info: dict[str, Any]
) -> Specialisation:
    """Per mixture, from each fold's ``(test segment indices, routes)``: the AMI metrics and, where the recordings
    carry a ``subtype`` (the simulator's ground truth), the first fold's routing of each class / subtype."""
    from sklearn.metrics import adjusted_mutual_info_score

    owner = info["segment_recording"]
    subtypes = [r.get("subtype") for r in info["recordings"]]
    has_subtype = all(s is not None for s in subtypes)
    metrics: dict[str, float] = {}
    tables: dict[str, str] = {}
    for method, folds in routes.items():
        if not folds:
            continue
        class_scores, subtype_scores = [], []
        for index, route in folds:
            class_scores.append(adjusted_mutual_info_score(y[index], route))
            if has_subtype:
                names = [f"{info['recordings'][r]['label']}/{subtypes[r]}" for r in owner[index]]
                subtype_scores.append(adjusted_mutual_info_score(names, route))
        metrics[f"{method}.routing_ami_class"] = float(np.mean(class_scores))
        if has_subtype:
            metrics[f"{method}.routing_ami_subtype"] = float(np.mean(subtype_scores))
            index, route = folds[0]
            names = np.array([f"{info['recordings'][r]['label']} / {subtypes[r]}" for r in owner[index]])
            n_experts = max(int(r.max()) for _, r in folds) + 1
            rows = []
            for name in sorted(set(names.tolist())):
                mine = route[names == name]
                share = np.bincount(mine, minlength=n_experts) / max(len(mine), 1)
                rows.append({"class / subtype": name, **{f"e{e}": f"{share[e]:.2f}" for e in range(n_experts)}})
            ami_subtype = metrics[f"{method}.routing_ami_subtype"]
            ami_class = metrics[f"{method}.routing_ami_class"]
            tables[f"Routing of ship subtypes to experts ({method}, first fold)"] = (
                "The simulator's subtypes are the within-class diversity the paper says experts absorb. Adjusted "
                f"mutual information between expert and subtype (mean over folds): {ami_subtype:.3f}; between "
                f"expert and class: {ami_class:.3f}.\n\n" + markdown_table(rows)
            )
    return Specialisation(metrics, tables)


def routing_table(routing: dict[str, np.ndarray], classes: Sequence[str]) -> str:
    """Markdown: per mixture and class, the share of test segments routed to each expert."""
    rows = []
    for method, counts in routing.items():
        for i, name in enumerate(classes):
            total = max(int(counts[i].sum()), 1)
            rows.append(
                {
                    "method": method,
                    "class": name,
                    **{f"e{e}": f"{counts[i, e] / total:.2f}" for e in range(counts.shape[1])},
                }
            )
    return markdown_table(rows)


def _n_experts(params: dict[str, Any], routes: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> int:
    """Columns of the routing tables: the model's ``experts`` parameter where it has one (an integer), at least
    one more than the largest expert index any fold chose (0 when no method routes)."""
    chosen = [int(route.max()) + 1 for folds in routes.values() for _, route in folds if len(route)]
    declared = params.get("experts")
    if isinstance(declared, int) and not isinstance(declared, bool):
        chosen.append(declared)
    return max(chosen, default=0)


def _pm(metrics: dict[str, float], method: str, key: str) -> str:
    return f"{metrics[f'{method}.{key}']:.3f} ± {metrics[f'{method}.{key}_sd']:.3f}"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _chance(per_fold: dict[str, list[dict[str, Any]]], methods: Sequence[str]) -> str:
    folds = per_fold[methods[0]]
    shares = [f["confusion"].sum(axis=1).max() / max(f["confusion"].sum(), 1) for f in folds]
    return f"{float(np.mean(shares)):.3f}"


def _check_bundle(data: DataBundle, root: Any) -> dict[str, Any]:
    info = data.info
    needed = ("recordings", "segment_recording", "classical", "classes")
    if not all(k in info for k in needed):
        raise DataError("task uatr.recognition needs a uatr dataset (recordings, segments and classical features)")
    if not info.get("labelled", False):
        raise DataError(
            "the recordings carry no labels: training needs labelled recordings; predict these with a finished "
            f"run instead: pipeline predict RUN_DIR dataset.params.root={root or 'NEW'} dataset.params.unlabelled=true"
        )
    return info
