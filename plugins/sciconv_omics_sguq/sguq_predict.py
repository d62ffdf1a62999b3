"""Applying a finished SGUQ run to new patients (``pipeline predict RUN_DIR``): what ``run`` keeps, and the
staged prediction itself.

**What the run keeps** (:func:`save_trained`, into the run's ``trained/`` folder, safetensors and JSON only):

- ``sguq.json``: the stages and their omics, the omics' feature counts and names, the classes, the ensemble size,
  the uncertainty definition and the fixed split's thresholds (chosen on its out-of-fold or validation samples);
- ``stage<s>-member<mm>.arrays.safetensors``: each member of each stage's ensemble on the fixed split (the
  dataset's own train/test split): its MOGONET weights and its graph parameters (each omics' adaptive threshold,
  the architecture), :meth:`~sciconv_omics_sguq.mogonet_training.FittedMOGONET.state_dict` without the training
  samples;
- ``stage<s>-graph.arrays.safetensors``: the training patients' features of each of the stage's omics (the
  nodes every new patient links to, the same for every member of the stage);
- ``context.arrays.safetensors``: the validation patients (mode ``validation``): their features, which omics
  they have and their rows in the training data.

**The test protocol, replayed.** In the run, each member classified the fixed split's validation and test
samples together, in one graph per omics over the training patients then those samples (MOGONET is
transductive: :func:`~sciconv_omics_sguq.patient_graph.train_test_graph` links each of them to the training
patients within the training threshold, never to each other). A new sample's prediction depends, through the
training patients it shares neighbours with, on the other samples in that graph, so ``predict`` builds the same
graph: the training patients, the validation patients, and the new samples in place of the test samples
(validation and new samples ordered by their rows in their files, the validation ones first on a tie, which is
the run's order when the new data are the run's own). Applied to the run's own test split (``--split test``),
this is exactly the run's computation, and the metrics are the run's bit for bit.

**The staged decision** is the run's (:func:`~sciconv_omics_sguq.sguq.staged_decision`): a sample goes through
the stages whose omics it has, and is decided at the first whose ensemble uncertainty is at or below the run's
threshold, the last stage deciding the rest; a sample lacking every later stage's omics is decided at its last
available stage (``forced``); one with the omics of no stage is listed without a prediction. An omics may be
absent from the new data altogether (only mRNA measured, say): its stages are skipped for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from sciconv import DataBundle, DataSpec, PredictionResult
from sciconv.errors import ConfigError, DataError
from sciconv.spec import check_compatible as check_spec
from sciconv.spec import describe_spec

if TYPE_CHECKING:
    from sciconv.context import PredictContext, RunContext

FORMAT = "sciconv-sguq-trained/1"
STATE = "sguq"
CONTEXT = "context"


def member_name(stage: int, member: int) -> str:
    """The trained-state name of member ``member`` of stage ``stage`` (0-based): ``stage1-member00``."""
    return f"stage{stage + 1}-member{member:02d}"


def graph_name(stage: int) -> str:
    """The trained-state name of stage ``stage``'s training patients (0-based): ``stage1-graph``."""
    return f"stage{stage + 1}-graph"


# ----------------------------------------------------------------------------------------------------
# run: what predict needs


def save_trained(
    ctx: RunContext,
    task: Any,
    mdata: Any,
    stages: Sequence[tuple[str, ...]],
    fixed: Any,
    thresholds: Sequence[float],
    members: Mapping[tuple[str, int, int], Any],
    x: Mapping[str, np.ndarray],
    class_names: Sequence[str],
) -> bool:
    """Keep the fixed split's ensembles, training patients, validation patients and thresholds (see the module
    docstring). ``fixed``: the fixed split (``fit``, ``val``, ``test`` sample indices); ``members``: the trained
    members by (split, stage, member), the fixed split's with their ``state``; ``x``: each omics over all
    samples (NaN rows where absent). Returns ``False`` (and logs why) when a member's weights are not at hand:
    a run resumed with ``task.params.save_models=none`` keeps no weights, so it cannot be applied."""
    states = {}
    for s in range(len(stages)):
        for m in range(task.n_models):
            member = members.get(("fixed", s, m))
            if member is None or member.state is None:
                ctx.log(
                    f"omics-sguq.staged: the weights of stage {s + 1}, member {m} of the fixed split are not at hand "
                    "(reused from a run with task.params.save_models=none); nothing is kept for predict"
                )
                return False
            states[(s, m)] = member.state
    modalities = list(mdata.mod)
    for s in range(len(stages)):
        graph = {k: v for k, v in states[(s, 0)].items() if k.startswith("train_views.")}
        ctx.save_arrays(graph_name(s), graph)
        for m in range(task.n_models):
            ctx.save_arrays(member_name(s, m), {k: v for k, v in states[(s, m)].items() if not k.startswith("train_")})
    val = np.asarray(fixed.val, dtype=np.int64)
    has = {m: ~np.isnan(x[m][val]).all(axis=1) if len(val) else np.zeros(0, dtype=bool) for m in modalities}
    context: dict[str, np.ndarray] = {"positions": val}
    for m in modalities:
        context[f"x.{m}"] = np.ascontiguousarray(x[m][val], dtype=np.float32)
        context[f"has.{m}"] = has[m].astype(np.uint8)
    ctx.save_arrays(CONTEXT, context)
    ctx.save_state(
        STATE,
        {
            "format": FORMAT,
            "stages": [list(stage) for stage in stages],
            "modalities": modalities,
            "n_features": [int(x[m].shape[1]) for m in modalities],
            "feature_names": {m: [str(v) for v in mdata.mod[m].var_names] for m in modalities},
            "classes": [str(c) for c in class_names],
            "n_models": int(task.n_models),
            "uncertainty": task.uncertainty,
            "mode": task.mode,
            "thresholds": [float(t) for t in thresholds],
            "n_fit": len(fixed.fit),
            "n_context": len(val),
        },
    )
    return True


# ----------------------------------------------------------------------------------------------------
# predict: compatibility


def _describe(spec: DataSpec) -> str:
    mods = list(spec.extra.get("modalities") or [])
    sizes = list(spec.extra.get("n_features") or [])
    omics = ", ".join(f"{m} ({n} features)" for m, n in zip(mods, sizes, strict=False)) or "no named omics"
    classes = f"classes {', '.join(spec.classes)}" if spec.classes else f"{spec.n_outputs} classes"
    return f"omics {omics}; {classes}"


def check_compatible(task: Any, trained: DataSpec, new: DataSpec) -> None:
    """New data must hold each omics the stages use with the training number of features, or not at all (its
    stages are then skipped), at least one stage's omics, and the training classes. A :class:`DataError` naming
    both sides otherwise. Specs without named omics are compared field by field."""
    t_mods, n_mods = trained.extra.get("modalities"), new.extra.get("modalities")
    if not t_mods or not n_mods:
        check_spec(trained, new)
        return
    t_size = dict(zip(t_mods, trained.extra.get("n_features") or [], strict=False))
    n_size = dict(zip(n_mods, new.extra.get("n_features") or [], strict=False))
    used = list(dict.fromkeys(o for stage in task.stages for o in stage))
    problems = [
        f"{m} has {n_size[m]} features, not {t_size[m]}"
        for m in used
        if m in n_size and m in t_size and int(n_size[m]) != int(t_size[m])
    ]
    if not any(all(o in n_size for o in stage) for stage in task.stages):
        stages = "; ".join(" + ".join(stage) for stage in task.stages)
        problems.append(f"no stage's omics are all present (stages: {stages})")
    if trained.classes and new.classes:
        if tuple(trained.classes) != tuple(new.classes):
            problems.append(f"classes {', '.join(new.classes)}, not {', '.join(trained.classes)}")
    elif trained.n_outputs != new.n_outputs:
        problems.append(f"{new.n_outputs} classes, not {trained.n_outputs}")
    if problems:
        raise DataError(
            f"the run trained on {_describe(trained)} ({describe_spec(trained)}); these data have {_describe(new)} "
            f"({describe_spec(new)}): {'; '.join(problems)}, so the trained model cannot be applied to them"
        )


# ----------------------------------------------------------------------------------------------------
# predict


def _fitted(ctx: PredictContext, stage: int, member: int, graph: Mapping[str, np.ndarray]) -> Any:
    from sciconv_omics_sguq.mogonet_training import FittedMOGONET

    arrays = {**ctx.load_arrays(member_name(stage, member)), **graph}
    return FittedMOGONET.from_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})


def _labels(mdata: Any, n_classes: int) -> np.ndarray | None:
    """The samples' class indices, or ``None`` when the data carry no (complete) labels."""
    if "label" not in mdata.obs:
        return None
    values = mdata.obs["label"]
    if values.isna().any():
        return None
    y = values.to_numpy(dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        return None
    return y


def predict(task: Any, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
    """Per sample: the staged prediction, the stage that decided it (``forced`` when only because later omics
    were missing), that stage's uncertainty and probabilities, every stage's prediction and uncertainty, and the
    omics the decision needed. With labels: the run's test metrics under the run's names (``--split test``) or
    prefixed ``all.`` (every sample)."""

    from sciconv_omics_sguq.mogonet_io import modality_mask, split_mask, to_arrays
    from sciconv_omics_sguq.sguq import EnsembleOutput
    from sciconv_omics_sguq.sguq_task import staged_metrics

    if not ctx.trained.has(STATE):
        raise ConfigError(
            "this run kept no SGUQ trained state (trained/sguq.json): it was trained before predict existed, or "
            "resumed with task.params.save_models=none; train it again to apply it to new data"
        )
    state = ctx.load_state(STATE)
    if state.get("format") != FORMAT:
        raise DataError(f"trained/sguq.json: format {state.get('format')!r}, expected {FORMAT!r}")
    mdata = bundle.info.get("mudata")
    if mdata is None or not hasattr(mdata, "mod"):
        raise DataError(
            f"task omics-sguq.staged predicts multi-omics data (bundle.info['mudata']); dataset "
            f"{ctx.config.dataset.name!r} does not provide it"
        )
    stages = [tuple(stage) for stage in state["stages"]]
    classes = list(state["classes"])
    n_classes, n_models = len(classes), int(state["n_models"])
    thresholds = [float(t) for t in state["thresholds"]]

    if ctx.split == "test":
        rows = np.flatnonzero(split_mask(mdata, "test"))
        if not len(rows):
            raise DataError(f"--split test: dataset {ctx.config.dataset.name!r} has no test samples")
    else:
        rows = np.arange(mdata.n_obs)
        if not len(rows):
            raise DataError(f"dataset {ctx.config.dataset.name!r} holds no samples to predict")
    new_mods = list(mdata.mod)
    mask = modality_mask(mdata)
    omics = list(dict.fromkeys(o for stage in stages for o in stage))
    has = {o: mask[o].to_numpy()[rows] if o in new_mods else np.zeros(len(rows), dtype=bool) for o in omics}
    x_new = {o: to_arrays(mdata, o)[rows] for o in omics if o in new_mods}
    available = np.stack([np.all([has[o] for o in stage], axis=0) for stage in stages], axis=1)
    classifiable = available.any(axis=1)

    context = ctx.load_arrays(CONTEXT)
    c_pos = np.asarray(context["positions"], dtype=np.int64)
    c_has = {o: context[f"has.{o}"].astype(bool) for o in omics}
    ctx.log(
        f"omics-sguq.staged: {len(rows)} samples through {len(stages)} stages of {n_models} MOGONETs each "
        f"(linked to {state['n_fit']} training and {len(c_pos)} validation patients)"
    )

    keep = rows[classifiable]  # positions of the samples with some stage's omics
    outputs: list[EnsembleOutput | None] = []
    for s, stage in enumerate(stages):
        here = available[classifiable, s]
        if not here.any():
            outputs.append(None)
            continue
        c_rows = np.flatnonzero(np.all([c_has[o] for o in stage], axis=0)) if len(c_pos) else np.zeros(0, int)
        n_rows = np.flatnonzero(classifiable)[here]  # indices into rows
        keys = np.concatenate([c_pos[c_rows], keep[here]])
        origin = np.concatenate([np.zeros(len(c_rows), dtype=np.int64), np.ones(len(n_rows), dtype=np.int64)])
        order = np.lexsort((origin, keys))  # by row in the file, validation patients first on a tie
        views = [
            np.concatenate([np.asarray(context[f"x.{o}"])[c_rows], x_new[o][n_rows]])[order].astype(np.float32)
            for o in stage
        ]
        is_new = origin[order] == 1
        graph = ctx.load_arrays(graph_name(s))
        proba = np.stack([_fitted(ctx, s, m, graph).predict_proba(views)[is_new] for m in range(n_models)])
        ensemble = EnsembleOutput.from_member_proba(proba, uncertainty=state["uncertainty"])
        outputs.append(ensemble.expand(here))

    y_all = _labels(mdata, n_classes)
    y = None if y_all is None else y_all[rows]
    metrics: dict[str, float] = {}
    staged = None
    if classifiable.any():
        from sciconv_omics_sguq.sguq import staged_decision

        if y is not None:
            found, staged = staged_metrics(
                outputs, thresholds, available[classifiable], y[classifiable], stages, n_classes
            )
            prefix = "" if ctx.split == "test" else "all."
            metrics = {f"{prefix}{k}": v for k, v in found.items()}
        else:
            staged = staged_decision(outputs, thresholds, available[classifiable])
    if y is not None:
        if ctx.split == "test":
            metrics["n_test"] = float(len(rows))
            metrics["n_test_unclassifiable"] = float((~classifiable).sum())
        else:
            metrics["all.n_samples"] = float(len(rows))
            metrics["all.n_unclassifiable"] = float((~classifiable).sum())

    table = _table(mdata, rows, classes, stages, outputs, staged, classifiable, has, y)
    sections = {
        "SGUQ staged prediction": (
            f"Stages: {'; '.join(f'{s + 1}: ' + ' + '.join(stage) for s, stage in enumerate(stages))}; "
            f"{n_models} MOGONETs per stage (the run's fixed split), thresholds "
            + ", ".join(f"{t:.4g}" for t in thresholds)
            + f" (chosen in mode {state['mode']}). Decided at stage "
            + ", ".join(f"{s + 1}: {int((table['decided_stage'] == s + 1).sum())}" for s in range(len(stages)))
            + f"; without any stage's omics: {int((~classifiable).sum())}. Each new sample is linked to the "
            f"{state['n_fit']} training patients' graph of each omics (within the training threshold), with the "
            f"{state['n_context']} validation patients beside it, as the run's test samples were."
        )
    }
    return PredictionResult(tables={"predictions": table}, metrics=metrics, sections=sections)


def _table(
    mdata: Any,
    rows: np.ndarray,
    classes: Sequence[str],
    stages: Sequence[tuple[str, ...]],
    outputs: Sequence[Any],
    staged: Any,
    classifiable: np.ndarray,
    has: Mapping[str, np.ndarray],
    y: np.ndarray | None,
) -> Any:
    """One row per sample (see :func:`predict`)."""
    import pandas as pd

    n, n_stages = len(rows), len(stages)
    stage = np.full(n, -1, dtype=np.int64)
    pred = np.full(n, -1, dtype=np.int64)
    forced = np.zeros(n, dtype=bool)
    unc = np.full(n, np.nan)
    proba = np.full((n, len(classes)), np.nan)
    if staged is not None:
        stage[classifiable], pred[classifiable] = staged.stage, staged.pred
        forced[classifiable], unc[classifiable], proba[classifiable] = staged.forced, staged.uncertainty, staged.proba
    omics = list(has)
    needed = []
    for i in range(n):
        if stage[i] < 0:
            needed.append("")
            continue
        used = dict.fromkeys(o for st in stages[: stage[i] + 1] for o in st if has[o][i])
        needed.append("+".join(used))
    columns: dict[str, Any] = {"sample": [str(v) for v in mdata.obs_names[rows]]}
    if "split" in mdata.obs:
        columns["split"] = mdata.obs["split"].astype(object).to_numpy()[rows]
    if y is not None:
        columns["label"] = [classes[k] for k in y]
    columns["predicted"] = [classes[k] if k >= 0 else "" for k in pred]
    columns["decided_stage"] = pd.array([k + 1 if k >= 0 else None for k in stage], dtype="Int64")
    columns["forced"] = forced
    columns["uncertainty"] = unc
    columns.update({f"p_{name}": proba[:, k] for k, name in enumerate(classes)})
    columns["omics_needed"] = needed
    columns["n_omics_needed"] = [len(v.split("+")) if v else 0 for v in needed]
    columns["omics_available"] = ["+".join(o for o in omics if has[o][i]) for i in range(n)]
    for s in range(n_stages):
        out = outputs[s]
        s_pred = np.full(n, -1, dtype=np.int64)
        s_unc = np.full(n, np.nan)
        if out is not None:
            s_pred[classifiable], s_unc[classifiable] = out.pred, out.uncertainty
        columns[f"stage{s + 1}_predicted"] = [classes[k] if k >= 0 else "" for k in s_pred]
        columns[f"stage{s + 1}_uncertainty"] = s_unc
    return pd.DataFrame(columns)
