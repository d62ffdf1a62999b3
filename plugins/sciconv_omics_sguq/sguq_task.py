"""The SGUQ protocol (Tao et al., arXiv:2410.11046): staged MOGONET ensembles with uncertainty thresholds.

**Stages.** Stage ``s`` uses the omics ``stages[s]`` (default mRNA; mRNA + methylation; all three). For every
split of the data, each stage has an ensemble of ``n_models`` MOGONETs (:mod:`~sciconv_omics_sguq.models.mogonet`,
the official two-phase schedule: ``epochs_pretrain`` = 500 and ``epochs`` = 2500 full-batch epochs, Adam at
``lr_pretrain`` 1e-3, ``lr_gcn`` 5e-4, ``lr_vcdn`` 1e-3) trained on the training samples that have *all* of the
stage's omics. Member ``m`` of every stage of a split has the seed ``member_seed(derive_seed(train.seed,
"<split>"), m)``, and each omics' random streams (initial weights, dropout masks) derive from that seed and the
omics' name. MOGONET trains each omics' GCN by its own loss only, so member ``m``'s mRNA GCN is then the same
network in the stage-1, stage-2 and stage-3 models: the stages of a split that train on the same samples (all
of them, without missing modalities) are trained together, each GCN once, with one VCDN per stage of two or more
omics (:func:`~sciconv_omics_sguq.mogonet_training.train_mogonet_stages`). Each stage's model is exactly the MOGONET
that training the stage alone would give with those streams (to float32 rounding; a test checks it), at the
cost of the last stage alone instead of the three stages' sum. The stages' ensembles are therefore not
independent of each other: member ``m``'s stage-1 prediction comes from the same mRNA GCN that stage 3 fuses
(the paper does not say how its stages are seeded). The members of a split's stage group train together
(single-threaded, or with the pipeline's ``parallel.threads_per_job`` torch threads), in chunks: each job trains
a chunk of the members (``members_per_job``; by default all of them, split further only to keep all workers
busy), the most expensive jobs (the most omics) first. The jobs run through the core's
:func:`~sciconv.parallel.run_jobs` under the pipeline's ``parallel`` section: ``parallel.n_jobs`` joblib
worker processes, or shared among the ranks of a DDP run. A member's results do not depend on the chunk it is
trained in or on the process, so the results do not depend on ``parallel.n_jobs``, ``members_per_job`` or on
which members a resumed run still had to train.

**Staged inference** (:func:`~sciconv_omics_sguq.sguq.staged_decision`): a sample is decided at the first stage
whose ensemble uncertainty (sd over members of the voted class's probability) is at or below that stage's
threshold; the last stage decides everyone left. **Missing modalities:** a sample lacking some of a stage's
omics skips that stage (the ``available`` matrix, from
:func:`~sciconv_omics_sguq.mogonet_io.modality_mask`); a sample lacking every later stage's omics is decided at
its last available stage (``forced``); a sample lacking the omics of every stage cannot be classified and is
left out of the evaluation (counted in ``n_test_unclassifiable`` and said in the report).

**Thresholds, mode ``out_of_fold`` (default).** Every training sample is used and the test set never: a
stratified, seeded ``folds``-fold cross-validation over the training samples (scikit-learn's ``StratifiedKFold``,
shuffled with ``derive_seed(train.seed, "<split>/folds")``) trains one ensemble set per fold on the other folds
(named ``<split>/fold<j>``, seeded from that name), which predicts the fold's held-out samples; the thresholds
are chosen on these pooled out-of-fold predictions (:func:`~sciconv_omics_sguq.sguq.threshold_grid`, the
joint grid search, and the rule ``threshold_rule``: by default ``within``, the loosest thresholds whose staged
accuracy on the out-of-fold samples stays within ``tolerance`` (0.01) of the last stage's there; or ``best``, the
highest staged accuracy). The final ensembles, trained on all the training samples, classify the test samples
with those thresholds. Each sample's out-of-fold uncertainty comes from ensembles trained on ``(folds - 1) /
folds`` of the training samples, the final ensembles' from all of them (a little more certain: the thresholds
then decide a few more test samples early than they did out of fold). The cost is ``folds + 1`` ensemble sets
per split, trained as independent jobs. Fold 1's ensembles also give mode ``validation``'s protocol at no extra
cost (thresholds chosen on fold 1's held-out samples, applied to the same ensembles' test predictions: the
metrics ``valsplit_*``), which the report sets beside the out-of-fold result.

**Mode ``validation``.** The thresholds are chosen (the same grid search and rule) on a validation set carved
from the *training* samples only: a stratified, seeded ``val_fraction`` of them. The ensembles are trained on the rest
and, once the thresholds are chosen on the validation samples, classify the test samples with those same
ensembles. They are **not** retrained on all the training data: the thresholds are calibrated to the
uncertainty of the ensembles that produced them, and an ensemble trained on more samples is more certain, so
the thresholds would not carry over (and retraining would double the cost). The test labels are used for
nothing but the final metrics.

**Mode ``replication``** follows the official code: ensembles trained on the full training set and the
thresholds chosen on the *test* set. Its staged numbers are test-tuned (optimistic); the report says so on
every row.

**Splits.** The dataset's own train/test split (``fixed``; ROSMAP: 245 / 106), then ``n_splits`` repeated
stratified splits of all samples with the same number of test samples (``split-01``, ...; seeded), reported as
mean ± SD (:func:`sciconv.kit.summarize` with ``kind="sd"``: the sample standard deviation, ``ddof=1``).
Both the repeated splits and the validation carve keep their own scikit-learn ``StratifiedShuffleSplit`` draws
(seeded ``derive_seed(train.seed, "<split>")`` and ``derive_seed(train.seed, "<split>/val")`` modulo
``2**32``; the validation share rounded up, ``ceil(val_fraction * n)``), not :func:`sciconv.kit.stratified_split`,
whose draws and rounding differ: switching would change which samples each split holds, and so every metric.

**The model slot.** Every network trained is built by the pipeline's model component (``model:``, the
registered ``omics-sguq.mogonet``, :class:`~sciconv_omics_sguq.models.mogonet.MOGONETNet`) from
``model.params``, one per stage and member, in the worker that trains it: a member's GCNs and classifiers and
each stage's VCDN are the modules of those factory-built models (re-initialised from the member's own random
streams). They are trained with MOGONET's own published procedure (:mod:`~sciconv_omics_sguq.mogonet_training`:
full-batch passes over the patient graphs, per-omics and VCDN Adam steps, written out by hand for speed), not
with the core engine's mini-batch loop; the engine's ``train`` settings other than ``train.seed`` do not
apply (the schedule is in ``task.params``).

**Metrics** (``metrics.json``, fixed split, plus ``<key>_mean`` / ``<key>_sd`` over the repeated splits):
``staged_acc``, ``staged_f1``, ``staged_auc``; ``decided_stage<s>`` (fraction of the test samples decided at
stage s, 1-based); ``forced``; ``tests_saved`` (fraction of omics assays not needed,
:meth:`~sciconv_omics_sguq.sguq.StagedResult.tests_saved`); ``stage<s>_acc/f1/auc`` (stage s's ensemble on
every test sample with its omics); ``mogonet_single_acc/f1/auc`` (the mean over the last stage's members, each
a single MOGONET: the MOGONET baseline, trained on all training samples in modes ``out_of_fold`` and
``replication``); ``threshold<s>``; on the samples the thresholds were chosen on, ``tuning_staged_acc``,
``tuning_last_stage_acc`` and ``tuning_decided_stage<s>``; in mode ``out_of_fold``, ``valsplit_*`` (above); and
``training_seconds``, the wall time of the training. F1 is that of class 1 for two classes (as MOGONET
reports), else macro; AUC from the probabilities (macro one-vs-rest for more than two classes).

**Predict** (``pipeline predict RUN_DIR``, :mod:`~sciconv_omics_sguq.sguq_predict`): at the end of ``run`` the
fixed split's ensembles (weights and graph parameters), its training and validation patients' features and its
thresholds are kept in ``trained/``; ``predict`` links new samples to the training patients' graphs as the test
samples were, and applies the staged decision. On the run's own test split it reproduces the fixed split's
metrics exactly.

**Resume.** Every finished member is written to ``checkpoints/sguq/<split>/stage<s>/member-<mm>/`` as soon as
its job (its chunk) is done: its probabilities on the samples it is evaluated on (and, for the fixed split, its
weights and training samples, :meth:`~sciconv_omics_sguq.mogonet_training.FittedMOGONET.state_dict`, as safetensors)
with a ``manifest.json`` holding the files' SHA-256 and a fingerprint of the member's data and settings. The
folder is written under a temporary name and renamed, so a killed run leaves only complete members.
``--resume`` reuses every member whose files verify and whose fingerprint matches, and trains the others
(an ensemble's missing members together, each with every stage of its group: the models found done come out
the same again and are kept as found). Neither the folders nor the fingerprints hold a component's name, so a run
directory written under the old names (``sguq.staged``, ...) resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from sciconv import DataBundle, DataSpec, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import CheckpointError, ConfigError, DataError, did_you_mean
from sciconv.kit import (
    atomic_directory,
    derive_seed,
    file_sha256,
    markdown_table,
    new_figure,
    save_figure,
    summarize,
)
from sciconv.parallel import Job, job_slots
from sciconv_omics_sguq import published
from sciconv_omics_sguq.models.mogonet import MOGONET, MOGONETNet
from sciconv_omics_sguq.mogonet_training import FittedMOGONET
from sciconv_omics_sguq.sguq import (
    DEFAULT_STAGES,
    RULES,
    EnsembleOutput,
    StagedResult,
    ThresholdGrid,
    member_seed,
    staged_decision,
    threshold_grid,
)

MODES = ("out_of_fold", "validation", "replication")
MEMBER_FORMAT = "sciconv-sguq-member/1"
# how a member's random streams are derived (per view key, mogonet._stream_seed): part of its fingerprint
_STREAMS = "streams=per-view-key/1"
_SCORES = ("acc", "f1", "auc")


# ----------------------------------------------------------------------------------------------------
# Splits and jobs


@dataclass
class _Split:
    """One split: indices (into the MuData's samples) of the training, validation and test samples.

    ``fit`` are the samples the ensembles train on (training minus validation in mode ``validation``, all the
    training samples in modes ``out_of_fold`` and ``replication``, where ``val`` is empty). ``folds`` (mode
    ``out_of_fold``): each fold's training and held-out samples, a partition of ``fit``."""

    name: str
    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray
    folds: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    def fold_name(self, j: int) -> str:
        """The name of fold ``j``'s (0-based) ensembles: ``fixed/fold1``, ..."""
        return f"{self.name}/fold{j + 1}"

    def ensembles(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """The ensembles the split trains: (name, samples they train on, samples they predict). Each fold's
        ensembles predict their held-out samples and the test samples (the latter for the validation-split
        comparison); the split's own, on ``fit``, predict ``evaluated``."""
        folds = [
            (self.fold_name(j), fit, np.sort(np.concatenate([held, self.test])))
            for j, (fit, held) in enumerate(self.folds)
        ]
        return [*folds, (self.name, self.fit, self.evaluated)]

    @property
    def evaluated(self) -> np.ndarray:
        """Samples the members predict: validation and test."""
        return np.sort(np.concatenate([self.val, self.test]))


@dataclass
class _Job:
    """One member of one stage's ensemble on one split. ``group``: the stages (indices) of the split that train
    on the same samples, this one included; their models share their GCNs and train together."""

    split: str
    stage: int
    member: int
    seed: int
    fingerprint: str
    fit: np.ndarray  # sample indices the member trains on
    evaluated: np.ndarray  # sample indices it predicts
    keep_model: bool
    group: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.split, self.stage, self.member)


@dataclass
class _Member:
    """What the protocol keeps of a trained member."""

    proba: np.ndarray  # (n_evaluated, C)
    samples: np.ndarray  # (n_evaluated,) sample indices
    history: dict[str, np.ndarray] = field(default_factory=dict)
    state: dict[str, Tensor] | None = None


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class _Chunk:
    """One job: members of one split's stage group (stages with the same training samples) trained together.
    ``units[i]``: member i's jobs, one per stage of the group."""

    units: list[list[_Job]]

    @property
    def keys(self) -> list[tuple[str, int, int]]:
        """The (split, stage, member) of every model the chunk trains, member-major."""
        return [job.key for unit in self.units for job in unit]

    @property
    def name(self) -> str:
        """``<split>/stage<s>[+<s>...]/members-<m>-<m>...`` (1-based stages): unique among a run's chunks."""
        first = self.units[0]
        stages = "+".join(str(job.stage + 1) for job in first)
        return f"{first[0].split}/stage{stages}/members-" + "-".join(f"{unit[0].member:02d}" for unit in self.units)


@dataclass(frozen=True)
class _StageModels:
    """The networks of a stage group, built by the pipeline's model component: ``build(f)`` is
    ``factory(specs[f], **params).mogonet``, a fresh MOGONET over the omics of the group's ``f``-th stage.
    Picklable (the factory by reference), so each worker builds the networks it trains."""

    factory: Callable[..., nn.Module]
    params: Mapping[str, Any]
    specs: tuple[DataSpec, ...]

    def __call__(self, f: int) -> MOGONET:
        model = self.factory(self.specs[f], **self.params)
        if not isinstance(model, MOGONETNet):
            raise ConfigError(
                f"task omics-sguq.staged trains MOGONET ensembles: the model component built a "
                f"{type(model).__name__}, not an omics-sguq.mogonet"
            )
        return model.mogonet


def _run_chunk(keys: list[tuple[str, int, int]], *args: Any) -> list[tuple[tuple[str, int, int], _Member]]:
    """One job of :func:`~sciconv.parallel.run_jobs`: train the models ``keys`` (split, stage, member;
    member-major) together, hand them back with their keys. The members seed themselves (their own seeds), so
    the seeding that ``run_jobs`` does before the job does not change them."""
    return list(zip(keys, _train_members(*args), strict=True))


def _train_members(
    views_fit: list[np.ndarray],
    y_fit: np.ndarray,
    view_keys: list[str],
    fusions: list[tuple[int, ...]],
    views_eval: list[list[np.ndarray]],
    seeds: list[int],
    params: dict[str, Any],
    keep_model: bool,
    build: _StageModels | None = None,
) -> list[_Member]:
    """Train the members of a stage group together (one model per member and stage, the stages' GCNs shared:
    :func:`~sciconv_omics_sguq.mogonet_training.train_mogonet_stages`, the networks built by ``build``, the
    pipeline's model component) and predict each stage's evaluation samples ``views_eval[stage]``; returns
    member-major. Runs in a worker process or, with ``parallel.n_jobs`` 1, in the run's process."""
    from sciconv_omics_sguq.mogonet_training import train_mogonet_stages

    out = []
    fits = train_mogonet_stages(
        views_fit, y_fit, seeds=seeds, fusions=fusions, view_keys=view_keys, build=build, **params
    )
    for row in fits:
        for fitted, evaluated in zip(row, views_eval, strict=True):
            proba = fitted.predict_proba(evaluated) if len(evaluated[0]) else np.zeros((0, fitted.n_classes))
            out.append(
                _Member(
                    proba=proba,
                    samples=np.zeros(0, dtype=np.int64),
                    history={k: np.asarray(v, dtype=np.float32) for k, v in fitted.history.items()},
                    state=fitted.state_dict() if keep_model else None,
                )
            )
    return out


# ----------------------------------------------------------------------------------------------------
# Member files


def write_member(directory: Path, member: _Member, manifest: Mapping[str, Any]) -> None:
    """Write a member's folder atomically: ``proba.safetensors`` (probabilities, sample indices, losses),
    ``model.safetensors`` when the weights are kept, and ``manifest.json`` (SHA-256 of each file)."""
    from safetensors.torch import save_file

    # written under a hidden ".tmp-<name>-..." sibling and swapped into place (what --resume cleans up)
    with atomic_directory(directory) as tmp:
        tensors = {
            "proba": torch.from_numpy(np.ascontiguousarray(member.proba, dtype=np.float64)),
            "samples": torch.from_numpy(np.ascontiguousarray(member.samples, dtype=np.int64)),
        }
        tensors.update({f"history.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in member.history.items()})
        save_file(tensors, str(tmp / "proba.safetensors"), metadata={"format": MEMBER_FORMAT})
        if member.state is not None:
            state = {k: v.detach().cpu().contiguous() for k, v in member.state.items()}
            save_file(state, str(tmp / "model.safetensors"), metadata={"format": MEMBER_FORMAT})
        files = sorted(p.name for p in tmp.iterdir())
        body = {**manifest, "format": MEMBER_FORMAT, "sha256": {name: file_sha256(tmp / name) for name in files}}
        (tmp / "manifest.json").write_text(json.dumps(body, indent=2), encoding="utf-8")


def read_member(directory: Path, fingerprint: str) -> _Member | None:
    """A member written by :func:`write_member` with this ``fingerprint``; ``None`` when there is none or it
    was trained with other data or settings. A member whose files do not match their SHA-256 is an error."""
    from safetensors.torch import load_file

    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MEMBER_FORMAT:
        raise CheckpointError(f"{manifest_path}: not a {MEMBER_FORMAT} manifest")
    if manifest.get("fingerprint") != fingerprint:
        return None
    for name, expected in manifest.get("sha256", {}).items():
        path = directory / name
        if "/" in name or not path.is_file() or file_sha256(path) != expected:
            raise CheckpointError(
                f"{path}: refused: missing, or its SHA-256 does not match the manifest (modified after it was "
                "written); delete the member's folder to train it again"
            )
    tensors = load_file(str(directory / "proba.safetensors"))
    state = load_file(str(directory / "model.safetensors")) if (directory / "model.safetensors").is_file() else None
    return _Member(
        proba=tensors["proba"].numpy(),
        samples=tensors["samples"].numpy(),
        history={k[len("history.") :]: v.numpy() for k, v in tensors.items() if k.startswith("history.")},
        state=state,
    )


# ----------------------------------------------------------------------------------------------------
# Metrics


def classification_scores(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    """ACC, F1 (class 1 for two classes, as MOGONET reports; macro otherwise) and AUC (from ``proba``; macro
    one-vs-rest for more than two classes; NaN when the samples hold a single class). NaN for no samples."""
    from sklearn.metrics import f1_score, roc_auc_score

    if len(y) == 0:
        return {"acc": math.nan, "f1": math.nan, "auc": math.nan}
    acc = float(np.mean(pred == y))
    if n_classes == 2:
        f1 = float(f1_score(y, pred, pos_label=1, average="binary", zero_division=0))
    else:
        f1 = float(f1_score(y, pred, labels=list(range(n_classes)), average="macro", zero_division=0))
    auc = math.nan
    if len(np.unique(y)) == n_classes:
        p = np.clip(proba, 0.0, None)
        if n_classes == 2:
            auc = float(roc_auc_score(y, p[:, 1]))
        else:
            p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
            auc = float(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=list(range(n_classes))))
    return {"acc": acc, "f1": f1, "auc": auc}


def staged_metrics(
    outputs: Sequence[EnsembleOutput | None],
    thresholds: Sequence[float],
    available: np.ndarray,
    y: np.ndarray,
    stages: Sequence[tuple[str, ...]],
    n_classes: int,
) -> tuple[dict[str, float], StagedResult]:
    """The staged decision of samples (each stage's ensemble ``outputs`` on them, ``available`` ``(N, S)``, labels
    ``y``) and its metrics: ``staged_*``, ``decided_stage<s>``, ``forced``, ``tests_saved``, ``stage<s>_*``,
    ``mogonet_single_*`` and ``threshold<s>`` (the run's test metrics; ``predict`` computes them the same way)."""
    n_stages = len(stages)
    staged = staged_decision(outputs, thresholds, available)
    metrics: dict[str, float] = {}
    for key, value in classification_scores(y, staged.pred, staged.proba, n_classes).items():
        metrics[f"staged_{key}"] = value
    for s, fraction in enumerate(staged.fractions(n_stages)):
        metrics[f"decided_stage{s + 1}"] = float(fraction)
    metrics["forced"] = float(staged.forced.mean()) if len(y) else math.nan
    metrics["tests_saved"] = staged.tests_saved(stages)
    for s, out in enumerate(outputs):
        rows = available[:, s]
        if out is None:
            scores = dict.fromkeys(_SCORES, math.nan)
        else:
            scores = classification_scores(y[rows], out.pred[rows], out.proba[rows], n_classes)
        for key, value in scores.items():
            metrics[f"stage{s + 1}_{key}"] = value
    last = outputs[-1]
    rows = available[:, -1]
    single = [
        classification_scores(y[rows], p[rows].argmax(axis=1), p[rows], n_classes)
        for p in (last.member_proba if last is not None else [])
    ]
    for key in _SCORES:
        values = [sc[key] for sc in single]
        metrics[f"mogonet_single_{key}"] = float(np.mean(values)) if values else math.nan
    for s, t in enumerate(thresholds):
        metrics[f"threshold{s + 1}"] = float(t)
    return metrics, staged


@dataclass
class _SplitResult:
    name: str
    metrics: dict[str, float]
    thresholds: list[float]
    grid: ThresholdGrid  # every candidate combination on the tuning samples
    chosen: int  # the chosen combination's index in grid
    outputs: list[EnsembleOutput | None]  # on the split's test samples
    available: np.ndarray  # (n_test, S)
    y: np.ndarray
    staged: StagedResult
    unclassifiable: int


# ----------------------------------------------------------------------------------------------------
# The task


class StagedSGUQTask(TaskBase):
    """SGUQ's staged, uncertainty-gated MOGONET ensembles (see the module docstring for the protocol).

    Args:
        stages: the omics of each stage, in order (default mRNA; mRNA + methylation; all three).
        mode: ``out_of_fold`` (thresholds chosen on the out-of-fold predictions of a ``folds``-fold
            cross-validation over the training samples, then applied to ensembles trained on all of them; the
            default), ``validation`` (thresholds chosen on a validation split of the training data, applied to
            the ensembles trained on the rest) or ``replication`` (the official code: ensembles on all training
            data, thresholds chosen on the test set; labelled test-tuned).
        folds: folds of the cross-validation in mode ``out_of_fold`` (5); fold 1 doubles as the validation split
            the report compares with.
        n_models: ensemble size per stage (10).
        members_per_job: the most members of an ensemble one job trains together; 0 (default): a whole
            ensemble, split into smaller chunks only when there are fewer ensembles to train than workers
            (the pipeline's ``parallel.n_jobs``, which sets how many members train at once).
            Smaller chunks are saved sooner (``--resume`` loses less of a killed run); the results are the same.
        val_fraction: share of the training samples held out (stratified) to choose the thresholds.
        n_splits: repeated stratified train/test splits besides the dataset's own (0: the fixed split only).
        epochs_pretrain, epochs, lr_pretrain, lr_gcn, lr_vcdn: MOGONET's training schedule (500, 2500,
            1e-3, 5e-4, 1e-3).
        sample_weight: ``frequency`` (official code) or ``none``; see :func:`~sciconv_omics_sguq.mogonet_training.
            train_mogonet`.
        uncertainty: ``predicted`` (SGUQ), ``member_max`` or ``mean_probability``; see
            :meth:`~sciconv_omics_sguq.sguq.EnsembleOutput.from_member_proba`.
        criterion: the staged score the thresholds are judged by: ``accuracy`` or ``f1`` (macro).
        threshold_rule: ``within`` (the loosest thresholds whose staged score on the tuning samples stays within
            ``tolerance`` of the last stage's score on them: the most samples decided early at no loss) or
            ``best`` (the highest staged score, then the most decided early); see
            :meth:`~sciconv_omics_sguq.sguq.ThresholdGrid.choose`.
        tolerance: how far below the last stage's score the staged score may fall under ``within`` (0.01: one
            point of accuracy; with 245 training samples, about two samples, well inside the out-of-fold
            estimate's standard error of about 0.027).
        candidates: candidate thresholds per stage in the grid search (41).
        save_models: whose weights are kept in ``checkpoints/``: ``fixed`` (the fixed split's members), ``all``
            or ``none`` (the probabilities every member gives are always kept, for ``--resume``).
        reference: published numbers quoted in the report: ``auto`` (ROSMAP's for ROSMAP and the simulated
            cohort, none otherwise), ``rosmap`` or ``none``.
    """

    def __init__(
        self,
        stages: tuple[tuple[str, ...], ...] = DEFAULT_STAGES,
        mode: str = "out_of_fold",
        n_models: Annotated[int, Field(ge=1)] = 10,
        folds: Annotated[int, Field(ge=2)] = 5,
        members_per_job: Annotated[int, Field(ge=0)] = 0,
        val_fraction: float = 0.2,
        n_splits: Annotated[int, Field(ge=0)] = 5,
        epochs_pretrain: Annotated[int, Field(ge=0)] = 500,
        epochs: Annotated[int, Field(ge=0)] = 2500,
        lr_pretrain: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1e-3,
        lr_gcn: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 5e-4,
        lr_vcdn: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1e-3,
        sample_weight: str = "frequency",
        uncertainty: str = "predicted",
        criterion: str = "accuracy",
        threshold_rule: str = "within",
        tolerance: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.01,
        candidates: Annotated[int, Field(ge=2)] = 41,
        save_models: str = "fixed",
        reference: str = "auto",
    ) -> None:
        self.stages = stages
        self.mode = mode
        self.n_models = n_models
        self.folds = folds
        self.members_per_job = members_per_job
        self.val_fraction = val_fraction
        self.n_splits = n_splits
        self.epochs_pretrain = epochs_pretrain
        self.epochs = epochs
        self.lr_pretrain = lr_pretrain
        self.lr_gcn = lr_gcn
        self.lr_vcdn = lr_vcdn
        self.sample_weight = sample_weight
        self.uncertainty = uncertainty
        self.criterion = criterion
        self.threshold_rule = threshold_rule
        self.tolerance = tolerance
        self.candidates = candidates
        self.save_models = save_models
        self.reference = reference

    # -- checks ------------------------------------------------------------------------------------

    def validate(self) -> None:
        """Check what the signature's constraints (checked by the pipeline) cannot: the stages, the choices,
        the validation fraction and that ``n_splits`` is not 1 (before any data is read)."""
        if not self.stages or any(not stage for stage in self.stages):
            raise ConfigError(f"task.params.stages: expected a list of non-empty lists of omics, got {self.stages!r}")
        for s, stage in enumerate(self.stages):
            if len(set(stage)) != len(stage):
                raise ConfigError(f"task.params.stages[{s}]: names an omics twice: {list(stage)}")
        if len({frozenset(stage) for stage in self.stages}) != len(self.stages):
            raise ConfigError(f"task.params.stages: two stages use the same omics: {[list(s) for s in self.stages]}")
        if self.mode not in MODES:
            raise ConfigError(f"task.params.mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"task.params.val_fraction: expected a fraction in (0, 1), got {self.val_fraction}")
        if self.n_splits == 1:
            raise ConfigError(
                f"task.params.n_splits: expected 0 (the fixed split only) or at least 2 repeated splits (for a "
                f"standard deviation), got {self.n_splits}"
            )
        choices = {
            "sample_weight": ("frequency", "none"),
            "uncertainty": ("predicted", "member_max", "mean_probability"),
            "criterion": ("accuracy", "f1"),
            "threshold_rule": RULES,
            "save_models": ("fixed", "all", "none"),
            "reference": ("auto", "rosmap", "none"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"task.params.{name}: expected one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )

    def _check_stages(self, modalities: Sequence[str]) -> list[tuple[str, ...]]:
        stages = [tuple(stage) for stage in self.stages]
        for s, stage in enumerate(stages):
            for name in stage:
                if name not in modalities:
                    raise ConfigError(
                        f"task.params.stages[{s}]: unknown omics {name!r}; the data hold {', '.join(modalities)}"
                        f"{did_you_mean(name, list(modalities))}"
                    )
        return stages

    def stage_spec(self, spec: DataSpec, stage: Sequence[str]) -> DataSpec:
        """The dataset's spec restricted to one stage's omics (what that stage's MOGONET is sized from)."""
        modalities = list(spec.extra.get("modalities", []))
        n_features = list(spec.extra.get("n_features", []))
        missing = [m for m in stage if m not in modalities]
        if missing:
            raise ConfigError(
                f"task.params.stages: unknown omics {missing}; the data hold {', '.join(modalities) or 'none named'}"
            )
        sizes = [n_features[modalities.index(m)] for m in stage]
        return DataSpec(
            input_shape=(sum(sizes),),
            n_outputs=spec.n_outputs,
            task_type=spec.task_type,
            classes=spec.classes,
            units=spec.units,
            extra={**spec.extra, "modalities": list(stage), "n_features": sizes},
        )

    def model_spec(self, spec: DataSpec) -> DataSpec:
        """The last stage's spec (all of its omics), or the dataset's when it does not name the omics."""
        if "modalities" not in spec.extra or any(m not in spec.extra["modalities"] for m in self.stages[-1]):
            return spec
        return self.stage_spec(spec, self.stages[-1])

    # -- the protocol ------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        from sciconv_omics_sguq.mogonet_io import labels, modality_mask, split_mask, to_arrays

        self.validate()
        data = ctx.load_data()
        mdata = data.info.get("mudata")
        if mdata is None or not hasattr(mdata, "mod"):
            raise DataError(
                f"task omics-sguq.staged needs a multi-omics dataset (bundle.info['mudata']); dataset "
                f"{ctx.config.dataset.name!r} does not provide one"
            )
        y = labels(mdata)
        if data.spec.extra.get("unlabelled") or (y < 0).any():
            raise DataError(
                f"dataset {ctx.config.dataset.name!r}: {data.info.get('source') or 'the data'} is read with "
                "dataset.params.unlabelled=true: its samples carry no labels, and a run needs labelled training and "
                "test samples; apply a finished run to them with pipeline predict RUN_DIR instead"
            )
        modalities = list(mdata.mod)
        stages = self._check_stages(modalities)
        n_classes = int(y.max()) + 1
        class_names = list(data.spec.classes or [str(c) for c in range(n_classes)])
        x = {m: to_arrays(mdata, m) for m in modalities}
        mask = modality_mask(mdata)
        available = np.stack([mask[list(stage)].all(axis=1).to_numpy() for stage in stages], axis=1)
        train_idx = np.flatnonzero(split_mask(mdata, "train"))
        test_idx = np.flatnonzero(split_mask(mdata, "test"))
        if len(test_idx) == 0:
            raise DataError(f"dataset {ctx.config.dataset.name!r}: no test samples (obs['split'] == 'test')")

        # The model component: built here once per stage, which checks that it is MOGONET and counts the
        # weights; every network trained is built by the same factory in the worker that trains it.
        specs = [self.stage_spec(data.spec, stage) for stage in stages]
        params = {}
        for spec in specs:
            model = ctx.build_model(spec)
            if not isinstance(model, MOGONETNet):
                raise ConfigError(
                    f"task omics-sguq.staged trains MOGONET ensembles: model.name must be omics-sguq.mogonet, got "
                    f"{ctx.config.model.name!r}"
                )
            params = model.training_params()
        train_params = {
            **params,
            "n_classes": n_classes,
            "epochs_pretrain": self.epochs_pretrain,
            "epochs": self.epochs,
            "lr_pretrain": self.lr_pretrain,
            "lr_gcn": self.lr_gcn,
            "lr_vcdn": self.lr_vcdn,
            "sample_weight": self.sample_weight,
        }

        splits = self._splits(ctx, y, train_idx, test_idx, class_names)
        jobs = self._jobs(ctx, splits, stages, available, y, x, train_params, class_names)
        started = time.perf_counter()
        members = self._train(ctx, jobs, x, y, stages, train_params, specs)
        self._cost = (time.perf_counter() - started, len(jobs), job_slots(ctx.n_jobs))

        results = [self._evaluate(split, stages, members, available, y, n_classes) for split in splits]
        for r in results:
            m = r.metrics
            ctx.log(
                f"{r.name}: staged ACC {m['staged_acc']:.3f} F1 {m['staged_f1']:.3f} AUC {m['staged_auc']:.3f}, "
                "decided " + " / ".join(f"{m[f'decided_stage{s + 1}']:.0%}" for s in range(len(stages)))
            )
        from sciconv_omics_sguq.sguq_predict import save_trained

        save_trained(ctx, self, mdata, stages, splits[0], results[0].thresholds, members, x, class_names)
        return self._result(ctx, data, stages, splits, results, members, class_names)

    # -- applying a finished run -------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """New samples must hold the training omics with the training features (an omics may be absent from
        the new data altogether: its stages are then skipped) and the same classes; see
        :func:`~sciconv_omics_sguq.sguq_predict.check_compatible`."""
        from sciconv_omics_sguq.sguq_predict import check_compatible

        check_compatible(self, trained, new)

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Staged prediction of new samples with the fixed split's ensembles and thresholds; see
        :func:`~sciconv_omics_sguq.sguq_predict.predict`."""
        from sciconv_omics_sguq.sguq_predict import predict

        return predict(self, ctx, bundle)

    def _splits(
        self,
        ctx: RunContext,
        y: np.ndarray,
        train_idx: np.ndarray,
        test_idx: np.ndarray,
        class_names: Sequence[str],
    ) -> list[_Split]:
        from sklearn.model_selection import StratifiedShuffleSplit

        pairs = [("fixed", train_idx, test_idx)]
        if self.n_splits:
            everyone = np.sort(np.concatenate([train_idx, test_idx]))
            counts = np.bincount(y[everyone], minlength=len(class_names))
            if counts.min() < 2:
                c = int(counts.argmin())
                raise DataError(
                    f"class {class_names[c]!r} has {counts[c]} sample(s); repeated stratified splits "
                    "(task.params.n_splits) need at least 2 per class"
                )
            for r in range(1, self.n_splits + 1):
                name = f"split-{r:02d}"
                sss = StratifiedShuffleSplit(
                    n_splits=1, test_size=len(test_idx), random_state=derive_seed(ctx.seed, name) % 2**32
                )
                try:
                    tr, te = next(sss.split(everyone, y[everyone]))
                except ValueError as exc:
                    raise DataError(f"{name}: cannot split the samples stratified ({exc})") from None
                pairs.append((name, np.sort(everyone[tr]), np.sort(everyone[te])))
        splits = []
        none = np.zeros(0, dtype=np.int64)
        for name, tr, te in pairs:
            if self.mode == "replication":
                splits.append(_Split(name, tr, none, te))
            elif self.mode == "out_of_fold":
                splits.append(_Split(name, tr, none, te, self._folds(ctx, name, tr, y, class_names)))
            else:
                fit, val = self._carve_validation(ctx, name, tr, y, class_names)
                splits.append(_Split(name, fit, val, te))
        return splits

    def _folds(
        self, ctx: RunContext, name: str, train: np.ndarray, y: np.ndarray, class_names: Sequence[str]
    ) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """``folds`` stratified, seeded folds of the training samples (scikit-learn's ``StratifiedKFold``,
        shuffled with ``derive_seed(train.seed, "<split>/folds")``): each fold's (training, held-out) samples."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y[train], minlength=len(class_names))
        if counts.min() < self.folds:
            c = int(counts.argmin())
            raise DataError(
                f"{name}: too few training samples for {self.folds}-fold cross-validation (task.params.folds): class "
                f"{class_names[c]!r} has {counts[c]} training sample(s), and every class needs at least one per fold; "
                "lower task.params.folds or use task.params.mode=validation"
            )
        kfold = StratifiedKFold(
            n_splits=self.folds, shuffle=True, random_state=derive_seed(ctx.seed, f"{name}/folds") % 2**32
        )
        return tuple((np.sort(train[a]), np.sort(train[b])) for a, b in kfold.split(train, y[train]))

    def _carve_validation(
        self, ctx: RunContext, name: str, train: np.ndarray, y: np.ndarray, class_names: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A stratified, seeded ``val_fraction`` of the training samples (never the test samples)."""
        from sklearn.model_selection import StratifiedShuffleSplit

        counts = np.bincount(y[train], minlength=len(class_names))
        n_val = math.ceil(self.val_fraction * len(train))
        if counts.min() < 2 or n_val < len(class_names) or len(train) - n_val < len(class_names):
            c = int(counts.argmin())
            raise DataError(
                f"{name}: too few training samples for a stratified validation split (task.params.val_fraction="
                f"{self.val_fraction}): {len(train)} training samples, class {class_names[c]!r} has {counts[c]}; "
                f"every class needs at least 2, and the {n_val} validation and {len(train) - n_val} remaining "
                f"samples at least one per class ({len(class_names)})"
            )
        sss = StratifiedShuffleSplit(
            n_splits=1, test_size=self.val_fraction, random_state=derive_seed(ctx.seed, f"{name}/val") % 2**32
        )
        try:
            fit, val = next(sss.split(train, y[train]))
        except ValueError as exc:
            raise DataError(f"{name}: cannot carve a stratified validation split ({exc})") from None
        return np.sort(train[fit]), np.sort(train[val])

    def _jobs(
        self,
        ctx: RunContext,
        splits: Sequence[_Split],
        stages: Sequence[tuple[str, ...]],
        available: np.ndarray,
        y: np.ndarray,
        x: Mapping[str, np.ndarray],
        train_params: Mapping[str, Any],
        class_names: Sequence[str],
    ) -> list[_Job]:
        jobs = []
        settings = json.dumps({k: v for k, v in train_params.items()}, sort_keys=True, default=str)
        ensembles = [ensemble for split in splits for ensemble in split.ensembles()]
        for name, fit_all, evaluated_all in ensembles:
            fits = [fit_all[available[fit_all, s]] for s in range(len(stages))]
            # stages that train on the same samples form a group: their models share their GCNs
            groups = {
                s: tuple(t for t in range(len(stages)) if np.array_equal(fits[t], fits[s])) for s in range(len(stages))
            }
            # every stage of an ensemble set draws from its seeds, so a group's stages share their members' GCNs
            ensemble_seed = derive_seed(ctx.seed, name)
            for s, stage in enumerate(stages):
                fit = fits[s]
                missing = [class_names[c] for c in range(len(class_names)) if not (y[fit] == c).any()]
                if missing or len(fit) <= train_params["k"]:
                    raise DataError(
                        f"{name}, stage {s + 1} ({' + '.join(stage)}): {len(fit)} training samples have all of "
                        f"its omics{'; none of class ' + ', '.join(map(repr, missing)) if missing else ''}; a stage's "
                        f"ensemble needs every class and more than k={train_params['k']} samples"
                    )
                evaluated = evaluated_all[available[evaluated_all, s]]
                data_digest = _digest(
                    fit, evaluated, y[fit], *(x[m][fit] for m in stage), *(x[m][evaluated] for m in stage)
                )
                for m in range(self.n_models):
                    seed = member_seed(ensemble_seed, m)
                    fingerprint = hashlib.sha256(
                        f"{data_digest}|{list(stage)}|{seed}|{settings}|{_STREAMS}".encode()
                    ).hexdigest()
                    # the fixed split's weights are always kept in memory (predict applies them: trained/);
                    # save_models says whose go to checkpoints/ (see _train's journal)
                    keep = self.save_models == "all" or name == "fixed"
                    jobs.append(_Job(name, s, m, seed, fingerprint, fit, evaluated, keep, groups[s]))
        return jobs

    def _checkpoints_weights(self, job: _Job) -> bool:
        """Whether ``job``'s weights go to its checkpoint folder (``save_models``)."""
        return self.save_models == "all" or (self.save_models == "fixed" and job.split == "fixed")

    def _member_dir(self, ctx: RunContext, job: _Job) -> Path:
        return ctx.run_dir.checkpoints_dir / "sguq" / job.split / f"stage{job.stage + 1}" / f"member-{job.member:02d}"

    def _train(
        self,
        ctx: RunContext,
        jobs: Sequence[_Job],
        x: Mapping[str, np.ndarray],
        y: np.ndarray,
        stages: Sequence[tuple[str, ...]],
        train_params: Mapping[str, Any],
        specs: Sequence[DataSpec],
    ) -> dict[tuple[str, int, int], _Member]:
        """Train the members not found done (``--resume``) in jobs, each member's networks built from
        ``specs`` (one per stage) by the pipeline's model component."""
        members: dict[tuple[str, int, int], _Member] = {}
        pending = []
        for job in jobs:
            directory = self._member_dir(ctx, job)
            if ctx.resume:
                for stale in directory.parent.glob(f".tmp-{directory.name}-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                found = read_member(directory, job.fingerprint)
                if found is not None and np.array_equal(found.samples, job.evaluated):
                    members[job.key] = found
                    continue
            pending.append(job)
        self._n_resumed = len(members)
        if members:
            ctx.log(f"omics-sguq.staged: {len(members)} of {len(jobs)} members done in an earlier run, reused")
        if not pending:
            return members
        n_workers = job_slots(ctx.n_jobs)  # parallel.n_jobs workers, or the ranks of a DDP run
        by_key = {job.key: job for job in jobs}
        chunks = self._chunks(pending, by_key, n_workers)
        where = (
            f"shared among {n_workers} ranks"
            if ctx.world.world_size > 1
            else f"on {min(n_workers, len(chunks))} worker(s)"
        )
        ctx.log(
            f"omics-sguq.staged: training {len(pending)} MOGONET members ({len(jobs) // self.n_models} ensembles of "
            f"{self.n_models}; {self.epochs_pretrain} + {self.epochs} epochs; the stages of a split that train on "
            f"the same samples share their GCNs) in {len(chunks)} jobs {where}"
        )
        # Members train single-threaded (small full-batch graphs; and a fixed thread count keeps the results
        # bitwise the same whatever the number of workers) unless the pipeline fixes parallel.threads_per_job.
        params = {**train_params, "num_threads": ctx.config.parallel.threads_per_job or 1}

        def payload(chunk: _Chunk) -> Job:
            first = chunk.units[0]  # the group's stages, for the first member
            omics = list(dict.fromkeys(o for job in first for o in stages[job.stage]))  # the group's, in stage order
            return Job(
                chunk.name,
                (
                    chunk.keys,
                    [x[o][first[0].fit] for o in omics],
                    y[first[0].fit],
                    omics,
                    [tuple(omics.index(o) for o in stages[job.stage]) for job in first],
                    [[x[o][job.evaluated] for o in stages[job.stage]] for job in first],
                    [unit[0].seed for unit in chunk.units],
                    params,
                    first[0].keep_model,
                    _StageModels(ctx.model_factory, ctx.model_params, tuple(specs[job.stage] for job in first)),
                ),
            )

        per_ensemble = {}
        for job in jobs:
            per_ensemble[(job.split, job.stage)] = per_ensemble.get((job.split, job.stage), 0) + 1
        done_in = {k: sum(1 for key in members if key[:2] == k) for k in per_ensemble}
        # Members are saved as their jobs finish (in any order), so a killed run keeps every finished job's.
        # A chunk retrains a member's every stage of the group; the stages found done are kept as found (the
        # same models, bit for bit).
        count = 0

        def journal(_: Job, finished: list[tuple[tuple[str, int, int], _Member]]) -> None:
            nonlocal count
            for key, member in finished:
                if key in members:
                    continue
                job = by_key[key]
                member.samples = job.evaluated
                written = member if self._checkpoints_weights(job) else dataclasses.replace(member, state=None)
                write_member(
                    self._member_dir(ctx, job),
                    written,
                    {
                        "fingerprint": job.fingerprint,
                        "seed": job.seed,
                        "split": job.split,
                        "stage": job.stage + 1,
                        "member": job.member,
                        "omics": list(stages[job.stage]),
                    },
                )
                member.state = member.state if job.split == "fixed" else None
                members[job.key] = member
                count += 1
                ensemble = (job.split, job.stage)
                done_in[ensemble] += 1
                if done_in[ensemble] == per_ensemble[ensemble]:
                    ctx.log(
                        f"  {job.split}, stage {job.stage + 1} ({' + '.join(stages[job.stage])}): ensemble of "
                        f"{per_ensemble[ensemble]} done [{count}/{len(pending)} members]"
                    )

        ctx.run_jobs(_run_chunk, [payload(chunk) for chunk in chunks], on_result=journal)
        return members

    def _chunks(
        self, pending: Sequence[_Job], by_key: Mapping[tuple[str, int, int], _Job], n_workers: int
    ) -> list[_Chunk]:
        """The pending members as jobs. A member of a stage group with any stage pending is trained with all
        of the group's stages (they share its GCNs). Per split and group, chunks of at most ``members_per_job``
        members (default: all of them, or as many near-equal chunks as keep ``n_workers`` busy), the most
        expensive first (more omics, then more members), so that the workers finish together."""
        from sciconv_omics_sguq.sguq import member_chunks

        ensembles: dict[tuple[str, tuple[int, ...]], list[list[_Job]]] = {}
        seen = set()
        for job in pending:
            unit_key = (job.split, job.group, job.member)
            if unit_key in seen:
                continue
            seen.add(unit_key)
            unit = [by_key[(job.split, s, job.member)] for s in job.group]
            ensembles.setdefault((job.split, job.group), []).append(unit)
        chunks = []
        for units in ensembles.values():
            if self.members_per_job:
                n_chunks = math.ceil(len(units) / self.members_per_job)
            else:
                n_chunks = max(1, math.ceil(max(n_workers, 1) / len(ensembles)))
            chunks.extend(_Chunk([units[i] for i in idx]) for idx in member_chunks(len(units), n_chunks))

        def cost(chunk: _Chunk) -> int:
            return len({o for job in chunk.units[0] for o in self.stages[job.stage]}) * len(chunk.units)

        return sorted(chunks, key=lambda c: -cost(c))  # stable: ties keep split and stage order

    # -- evaluation --------------------------------------------------------------------------------

    def _outputs(
        self,
        ensemble: str | np.ndarray,
        rows: np.ndarray,
        stages: Sequence[tuple[str, ...]],
        members: Mapping[tuple[str, int, int], _Member],
        available: np.ndarray,
    ) -> list[EnsembleOutput | None]:
        """Each stage's ensemble output on the samples ``rows`` (expanded: NaN where a sample lacks the stage).
        ``ensemble``: the name of the ensembles that predict them, or one name per row (out-of-fold: each
        training sample's own fold)."""
        names = np.broadcast_to(np.asarray(ensemble, dtype=object), rows.shape)
        outputs: list[EnsembleOutput | None] = []
        for s in range(len(stages)):
            here = available[rows, s]
            if not here.any():
                outputs.append(None)
                continue
            stacked = None
            for name in dict.fromkeys(names[here]):
                at = here & (names == name)
                for m in range(self.n_models):
                    member = members[(str(name), s, m)]
                    if stacked is None:
                        stacked = np.full((self.n_models, int(here.sum()), member.proba.shape[1]), np.nan)
                    position = np.searchsorted(member.samples, rows[at])
                    stacked[m, at[here]] = member.proba[position]
            ensemble_output = EnsembleOutput.from_member_proba(stacked, uncertainty=self.uncertainty)
            outputs.append(ensemble_output.expand(here))
        return outputs

    def _tuning(self, split: _Split, classifiable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The samples the thresholds are chosen on and, per sample, the ensembles whose outputs they see:
        out-of-fold, each training sample as predicted by the ensembles of the fold that held it out; the
        validation samples (mode validation); the test samples (mode replication, test-tuned)."""
        if self.mode == "out_of_fold":
            rows = np.concatenate([held for _, held in split.folds])
            names = np.concatenate([[split.fold_name(j)] * len(held) for j, (_, held) in enumerate(split.folds)])
            order = np.argsort(rows, kind="stable")
            rows, names = rows[order], names[order].astype(object)
        else:
            rows = split.val if self.mode == "validation" else split.test
            names = np.full(len(rows), split.name, dtype=object)
        keep = classifiable[rows]
        return rows[keep], names[keep]

    def _thresholds(
        self, outputs: list[EnsembleOutput | None], y: np.ndarray, available: np.ndarray
    ) -> tuple[ThresholdGrid, int]:
        grid = threshold_grid(outputs, y, available, criterion=self.criterion, candidates=self.candidates)
        return grid, grid.choose(self.threshold_rule, self.tolerance)

    def _rule_text(self) -> str:
        score = "accuracy" if self.criterion == "accuracy" else "macro F1"
        grid = f"over a grid of {self.candidates} candidates per stage"
        if self.threshold_rule == "best":
            return f"thresholds maximise the staged {score} {grid}, then decide the most samples early"
        return (
            f"thresholds decide the most samples as early as possible {grid} while the staged {score} stays at "
            f"least the last stage's minus {self.tolerance:g} (rule within; the most accurate combination when none "
            "qualifies)"
        )

    def _evaluate(
        self,
        split: _Split,
        stages: Sequence[tuple[str, ...]],
        members: Mapping[tuple[str, int, int], _Member],
        available: np.ndarray,
        y: np.ndarray,
        n_classes: int,
    ) -> _SplitResult:
        classifiable = available.any(axis=1)
        test = split.test[classifiable[split.test]]
        tune, tune_names = self._tuning(split, classifiable)
        # The thresholds see the tuning samples' outputs and labels only: out-of-fold training samples or
        # validation samples (test samples in mode replication only).
        tune_outputs = self._outputs(tune_names, tune, stages, members, available)
        grid, chosen = self._thresholds(tune_outputs, y[tune], available[tune])
        thresholds = [float(t) for t in grid.thresholds[chosen]]
        outputs = self._outputs(split.name, test, stages, members, available)
        y_test = y[test]
        metrics, staged = staged_metrics(outputs, thresholds, available[test], y_test, stages, n_classes)
        tuning, _ = staged_metrics(tune_outputs, thresholds, available[tune], y[tune], stages, n_classes)
        metrics["tuning_staged_acc"] = tuning["staged_acc"]
        metrics["tuning_last_stage_acc"] = tuning[f"stage{len(stages)}_acc"]
        for s in range(len(stages)):
            metrics[f"tuning_decided_stage{s + 1}"] = tuning[f"decided_stage{s + 1}"]
        if self.mode == "out_of_fold":
            metrics.update(self._validation_split(split, stages, members, available, y, n_classes, classifiable))
        return _SplitResult(
            split.name,
            metrics,
            thresholds,
            grid,
            chosen,
            outputs,
            available[test],
            y_test,
            staged,
            int((~classifiable[split.test]).sum()),
        )

    def _validation_split(
        self,
        split: _Split,
        stages: Sequence[tuple[str, ...]],
        members: Mapping[tuple[str, int, int], _Member],
        available: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        classifiable: np.ndarray,
    ) -> dict[str, float]:
        """Mode validation's protocol, from fold 1's ensembles (trained on the other folds) at no extra cost:
        thresholds chosen on fold 1's held-out samples (by the same rule), applied to the same ensembles' test
        predictions. Metrics ``valsplit_*``."""
        name = split.fold_name(0)
        held = split.folds[0][1]
        held = held[classifiable[held]]
        test = split.test[classifiable[split.test]]
        tune_outputs = self._outputs(name, held, stages, members, available)
        grid, chosen = self._thresholds(tune_outputs, y[held], available[held])
        thresholds = [float(t) for t in grid.thresholds[chosen]]
        outputs = self._outputs(name, test, stages, members, available)
        found, _ = staged_metrics(outputs, thresholds, available[test], y[test], stages, n_classes)
        keys = ["staged_acc", "staged_f1", "staged_auc", "tests_saved", "mogonet_single_acc"]
        keys += [f"decided_stage{s + 1}" for s in range(len(stages))]
        keys += [f"threshold{s + 1}" for s in range(len(stages) - 1)]
        return {f"valsplit_{key}": found[key] for key in keys}

    # -- results -----------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        data: Any,
        stages: Sequence[tuple[str, ...]],
        splits: Sequence[_Split],
        results: Sequence[_SplitResult],
        members: Mapping[tuple[str, int, int], _Member],
        class_names: Sequence[str],
    ) -> TaskResult:
        fixed, repeated = results[0], list(results[1:])
        n_stages = len(stages)
        tuned_on_test = self.mode == "replication"
        metrics: dict[str, float] = dict(fixed.metrics)
        keys = list(fixed.metrics)
        spread = summarize([], kind="sd").label  # "mean ± SD": the sample SD (ddof=1) over the repeated splits
        for key in keys if repeated else []:
            summary = summarize([r.metrics[key] for r in repeated], kind="sd")
            metrics[f"{key}_mean"] = summary.mean
            metrics[f"{key}_sd"] = summary.spread
        metrics["n_test"] = float(len(splits[0].test))
        metrics["n_test_unclassifiable"] = float(fixed.unclassifiable)
        metrics["n_splits"] = float(len(repeated))
        metrics["thresholds_tuned_on_test"] = float(tuned_on_test)
        metrics["training_seconds"] = float(getattr(self, "_cost", (math.nan,))[0])

        tag = ", thresholds tuned on the TEST set" if tuned_on_test else ""
        source = "this run (test-tuned)" if tuned_on_test else "this run"
        staged_cols = ["ACC", "F1", "AUC", *(f"decided at stage {s + 1}" for s in range(n_stages)), "tests saved"]
        staged_keys = ["staged_acc", "staged_f1", "staged_auc", *(f"decided_stage{s + 1}" for s in range(n_stages))]
        staged_keys.append("tests_saved")

        def cells(names: Sequence[str], keys_: Sequence[str], suffix: str = "") -> dict[str, float | str]:
            out: dict[str, float | str] = {}
            for name, key in zip(names, keys_, strict=True):
                if suffix:
                    out[name] = summarize([r.metrics.get(key, math.nan) for r in repeated], kind="sd").format(3)
                else:
                    out[name] = metrics.get(key, math.nan)
            return out

        table: list[ResultRow] = []
        variants = [("fixed split", "")] + ([(f"{len(repeated)} repeated splits, {spread}", "_")] if repeated else [])
        how = {
            "out_of_fold": f"out-of-fold thresholds, {self.folds} folds",
            "validation": "validation-split thresholds",
        }
        how_tag = f", {how[self.mode]}" if self.mode in how else ""
        for label, suffix in variants:
            table.append(
                ResultRow(f"SGUQ staged ({label}{how_tag}{tag})", cells(staged_cols, staged_keys, suffix), source)
            )
            if self.mode == "out_of_fold":
                n_fold_fit = len(splits[0].folds[0][0])
                table.append(
                    ResultRow(
                        f"SGUQ staged ({label}, validation-split thresholds: fold 1's ensembles on {n_fold_fit} "
                        "samples)",
                        cells(staged_cols, [f"valsplit_{k}" for k in staged_keys], suffix),
                        "this run: mode validation's protocol, for comparison",
                    )
                )
            for s, stage in enumerate(stages):
                table.append(
                    ResultRow(
                        f"stage {s + 1} ensemble alone, {' + '.join(stage)} ({label})",
                        cells(["ACC", "F1", "AUC"], [f"stage{s + 1}_{k}" for k in _SCORES], suffix),
                    )
                )
            table.append(
                ResultRow(
                    f"MOGONET (single model), {' + '.join(stages[-1])} ({label})",
                    cells(["ACC", "F1", "AUC"], [f"mogonet_single_{k}" for k in _SCORES], suffix),
                    f"this run: mean of the {self.n_models} stage-{n_stages} members (each trained on "
                    f"{len(splits[0].fit)} samples on the fixed split)",
                )
            )
        dataset_name = str(data.spec.extra.get("dataset", ""))
        reference = self.reference
        if reference == "auto":
            reference = "rosmap" if ("rosmap" in dataset_name.lower() or dataset_name == "simulated-cohort") else "none"
        real_note = ", real ROSMAP" if dataset_name == "simulated-cohort" else ""
        names = {"acc": "ACC", "f1": "F1", "auc": "AUC"}
        names.update({f"decided_stage{s}": f"decided at stage {s}" for s in (1, 2, 3)})
        for record in published.reference(reference):
            table.append(dataclasses.replace(record, source=record.source + real_note).row(**names))

        plots = []
        if ctx.config.output.plots:
            path = plot_uncertainty(fixed, stages, ctx.plots_dir / "uncertainty_by_stage.png")
            plots.append(
                (
                    path,
                    "Ensemble uncertainty of each stage on the fixed split's test samples, correctly vs wrongly "
                    "classified, with the chosen threshold",
                )
            )
            path = plot_accuracy_vs_decided(fixed, stages, ctx.plots_dir / "accuracy_vs_decided.png")
            plots.append(
                (
                    path,
                    "Accuracy against the fraction of test samples decided: each stage alone as its threshold is "
                    "swept (left), and the staged accuracy as stage 1's threshold is swept, the others fixed (right)",
                )
            )
            tuning = {"out_of_fold": "out-of-fold", "validation": "validation", "replication": "test"}[self.mode]
            if n_stages > 1:
                path = plot_threshold_tradeoff(fixed, stages, tuning, ctx.plots_dir / "threshold_tradeoff.png")
                plots.append(
                    (
                        path,
                        f"Staged accuracy against the fraction of samples that needed each extra omics test, fixed "
                        f"split: each panel sweeps the threshold that sends samples on to that test, the others as "
                        f"chosen, on the {tuning} samples and, with the same thresholds, on the test samples; the "
                        "stars mark the chosen operating point",
                    )
                )
            path = plot_losses(members, stages, self.n_models, ctx.plots_dir / "training_losses.png")
            if path is not None:
                plots.append((path, "Training loss of the fixed split's members (mean over members), per stage"))

        sections = self._sections(ctx, data, stages, splits, results, class_names, tuned_on_test)
        model = None
        state = members.get(("fixed", n_stages - 1, 0))
        if state is not None and state.state is not None:
            model = FittedMOGONET.from_state_dict(state.state).model
        return TaskResult(metrics=metrics, model=model, table=table, plots=plots, sections=sections)

    def _sections(
        self,
        ctx: RunContext,
        data: Any,
        stages: Sequence[tuple[str, ...]],
        splits: Sequence[_Split],
        results: Sequence[_SplitResult],
        class_names: Sequence[str],
        tuned_on_test: bool,
    ) -> dict[str, str]:
        fixed = splits[0]
        extra = data.spec.extra
        if tuned_on_test:
            thresholds_how = (
                "**Mode replication (the official code's protocol): the ensembles are trained on the full training "
                "set and the thresholds are chosen on the TEST set itself. The staged numbers are therefore tuned "
                "on the test labels and optimistic; they are not an estimate of performance on new patients.**"
            )
        elif self.mode == "out_of_fold":
            n_fold_fit = len(fixed.folds[0][0])
            thresholds_how = (
                f"Mode out_of_fold: for each split, a stratified {self.folds}-fold cross-validation over the "
                f"{len(fixed.fit)} training samples (on the fixed split): each fold's ensembles train on the other "
                f"folds ({n_fold_fit} samples for fold 1) and predict the fold's held-out samples, so every training "
                "sample gets an uncertainty from ensembles that never saw it. The thresholds are chosen on these "
                "pooled out-of-fold predictions; the final ensembles, trained on all the training samples, classify "
                "the test samples with those thresholds. The test labels serve only the final metrics. For "
                f"comparison, mode validation's protocol is computed from fold 1's ensembles at no extra cost "
                f"(thresholds on its {len(fixed.folds[0][1])} held-out samples, the same ensembles on the test "
                "samples): the rows marked validation-split."
            )
        else:
            thresholds_how = (
                f"Mode validation: for each split, a stratified {self.val_fraction:.0%} of the training samples "
                f"({len(fixed.val)} on the fixed split) is held out; the ensembles train on the other "
                f"{len(fixed.fit)} and the thresholds are chosen on the held-out samples. The same ensembles then "
                "classify the test samples (not retrained: the thresholds belong to these ensembles' uncertainty). "
                "The test labels serve only the final metrics."
            )
        protocol = (
            f"Dataset {extra.get('dataset', '?')}: {extra.get('n_train', '?')} training and "
            f"{extra.get('n_test', '?')} test samples, omics {', '.join(extra.get('modalities', []))}, classes "
            f"{', '.join(class_names)}. Stages: "
            + "; ".join(f"{s + 1}: {' + '.join(stage)}" for s, stage in enumerate(stages))
            + f". Each stage: an ensemble of {self.n_models} MOGONETs ({self.epochs_pretrain} pre-training + "
            f"{self.epochs} training epochs, lr {self.lr_pretrain:g} / {self.lr_gcn:g} / {self.lr_vcdn:g}); member m "
            "of every stage of a split has the same seed, and each omics' GCN its own random streams, so stages "
            "that train on the same samples share their members' GCNs (trained once; a VCDN per stage). A sample "
            "is decided at the first stage whose ensemble uncertainty (sd over members of the voted class's "
            f"probability) is at or below the stage's threshold; the last stage decides the rest. {thresholds_how} "
            + self._rule_text()
            + " "
            + (
                f"Splits: the dataset's own (fixed) and {len(splits) - 1} repeated stratified splits of all samples "
                f"with {len(fixed.test)} test samples each ({summarize([], kind='sd').label} over the repeated "
                "splits). "
                if len(splits) > 1
                else "Split: the dataset's own train/test split. "
            )
            + "(MOGONET is trained with its own full-batch schedule, above; of "
            "the pipeline's `train` section only `train.seed` is used.)"
        )
        if self.epochs_pretrain < 500 or self.epochs < 2500 or self.n_models < 10:
            protocol += (
                " This run uses a shortened schedule (the published one: 10 members, 500 + 2500 epochs); its numbers "
                "are not comparable with the published ones."
            )
        sections = {"Protocol": protocol}
        tuning = {"out_of_fold": "out-of-fold", "validation": "validation", "replication": "test"}[self.mode]
        rows = []
        for r in results:
            m = r.metrics
            rows.append(
                {
                    "split": r.name,
                    **{f"threshold {s + 1}": f"{t:.4f}" for s, t in enumerate(r.thresholds)},
                    f"{tuning}: staged ACC": f"{m['tuning_staged_acc']:.3f}",
                    f"{tuning}: stage {len(stages)} ACC": f"{m['tuning_last_stage_acc']:.3f}",
                    f"{tuning}: decided": _shares(m, "tuning_decided_stage", len(stages)),
                    "test: staged ACC": f"{m['staged_acc']:.3f}",
                    "test: decided": _shares(m, "decided_stage", len(stages)),
                }
            )
        columns = list(rows[0])
        sections["Thresholds per split"] = (
            f"Chosen on the {tuning} samples ({self._rule_text()}); decided: the share decided at stages "
            + " / ".join(str(s + 1) for s in range(len(stages)))
            + ".\n\n"
            + markdown_table(rows, columns).rstrip("\n")
        )
        seconds, n_trained, workers = getattr(self, "_cost", (math.nan, 0, 1))
        per_split = len(fixed.ensembles())
        resumed = getattr(self, "_n_resumed", 0)
        sections["Cost"] = (
            f"{len(splits)} split(s) x {per_split} ensemble set(s) per split"
            + (f" ({self.folds} folds + the final one)" if self.mode == "out_of_fold" else "")
            + f" x {len(stages)} stages x {self.n_models} members = {n_trained} stage models"
            + (f" ({resumed} reused from an earlier run)" if resumed else "")
            + f"; training took {seconds:.0f} s with {workers} parallel worker(s) (`parallel.n_jobs`; the ensembles "
            "of the folds, the splits and the members' chunks are independent jobs). The stages of an ensemble set "
            "that train on the same samples share their GCNs, so a member of the three default stages costs about "
            "one full MOGONET."
            + (
                f" Mode out_of_fold trains {per_split} ensemble sets per split where mode validation trains one."
                if self.mode == "out_of_fold"
                else ""
            )
        )
        missing = data.info.get("missing", {})
        n_missing = {k: v for k, v in missing.items() if v}
        if n_missing or any(r.unclassifiable for r in results):
            text = (
                "Samples lacking omics: "
                + ", ".join(f"{k} missing for {v}" for k, v in n_missing.items())
                + ". Each stage's ensemble trains on the training samples that have all of its omics; a sample "
                "lacking a stage's omics skips that stage, and one lacking every later stage's omics is decided at "
                "its last available stage"
                f" ({results[0].metrics['forced']:.1%} of the fixed split's test samples were decided that way "
                "above the threshold)."
            )
            if results[0].unclassifiable:
                text += (
                    f" {results[0].unclassifiable} test samples of the fixed split have the omics of no stage and "
                    "are left out of every metric."
                )
            sections["Missing modalities"] = text
        if resumed:
            sections["Resumed"] = f"{resumed} ensemble members were reused from an earlier run of this directory."
        return sections


# ----------------------------------------------------------------------------------------------------
# Plots


def plot_uncertainty(result: _SplitResult, stages: Sequence[tuple[str, ...]], path: Path) -> Path:
    """Histograms of each stage's uncertainty on the test samples, correct vs wrong, with the threshold."""
    fig, axes = new_figure(1, len(stages), figsize=(4.2 * len(stages), 3.4))
    for s, (ax, out) in enumerate(zip(axes[0], result.outputs, strict=True)):
        ax.set_title(f"stage {s + 1}: {' + '.join(stages[s])}", fontsize=9)
        ax.set_xlabel("uncertainty (sd over members)")
        if out is None:
            continue
        rows = result.available[:, s]
        u, correct = out.uncertainty[rows], out.pred[rows] == result.y[rows]
        bins = np.linspace(0.0, max(float(u.max()) if len(u) else 0.0, 1e-3), 21)
        ax.hist([u[correct], u[~correct]], bins=bins, label=["correct", "wrong"], color=["tab:green", "tab:red"])
        if s < len(result.thresholds):
            ax.axvline(result.thresholds[s], color="k", ls="--", label="threshold")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test samples")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_accuracy_vs_decided(result: _SplitResult, stages: Sequence[tuple[str, ...]], path: Path) -> Path:
    """Left: each stage's accuracy on the samples its threshold decides, against the fraction decided, as the
    threshold is swept. Right: the staged accuracy against the fraction decided at stage 1 (its threshold swept,
    the others as chosen)."""
    fig, axes = new_figure(1, 2, figsize=(10, 3.8))
    left, right = axes[0]
    for s, out in enumerate(result.outputs):
        if out is None:
            continue
        rows = result.available[:, s]
        u, correct = out.uncertainty[rows], (out.pred[rows] == result.y[rows])
        order = np.argsort(u, kind="stable")
        fraction = np.arange(1, len(u) + 1) / len(u)
        accuracy = np.cumsum(correct[order]) / np.arange(1, len(u) + 1)
        left.plot(fraction, accuracy, label=f"stage {s + 1}: {' + '.join(stages[s])}")
        if s < len(result.thresholds):
            decided = u <= result.thresholds[s]
            if decided.any():
                left.plot(decided.mean(), correct[decided].mean(), "ko", ms=4)
    left.set_xlabel("fraction of the stage's test samples decided")
    left.set_ylabel("accuracy of the decided samples")
    left.legend(fontsize=7)
    if len(stages) > 1 and result.outputs[0] is not None:
        u0 = result.outputs[0].uncertainty[result.available[:, 0]]
        grid = np.unique(np.concatenate([[0.0], u0]))
        xs, ys = [], []
        for t in grid:
            staged = staged_decision(result.outputs, [float(t), *result.thresholds[1:]], result.available)
            xs.append(float(np.mean(staged.stage == 0)))
            ys.append(float(np.mean(staged.pred == result.y)))
        right.plot(xs, ys, "-", color="tab:blue")
        right.plot(result.metrics["decided_stage1"], result.metrics["staged_acc"], "ko", ms=5, label="chosen")
        right.legend(fontsize=7)
    right.set_xlabel("fraction of test samples decided at stage 1")
    right.set_ylabel("staged accuracy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def _shares(metrics: Mapping[str, float], prefix: str, n_stages: int) -> str:
    return " / ".join(f"{metrics[f'{prefix}{s + 1}']:.0%}" for s in range(n_stages))


def tradeoff_curve(grid: ThresholdGrid, chosen: int, stage: int) -> np.ndarray:
    """Indices of the combinations that move the threshold deciding who goes on to stage ``stage`` (>= 1; the
    threshold of stage ``stage - 1``) with every other threshold as in combination ``chosen``, in order of
    increasing fraction of samples that reached stage ``stage``."""
    others = np.delete(np.arange(grid.thresholds.shape[1]), stage - 1)
    same = (grid.thresholds[:, others] == grid.thresholds[chosen, others]).all(axis=1)
    rows = np.flatnonzero(same)
    return rows[np.lexsort([grid.thresholds[rows, stage - 1], grid.reached[rows, stage]])]


def plot_threshold_tradeoff(result: _SplitResult, stages: Sequence[tuple[str, ...]], tuning: str, path: Path) -> Path:
    """Staged accuracy against the fraction of samples that needed each extra omics test (one panel per stage
    after the first): the threshold that sends samples on to that stage swept over the grid, the others as
    chosen (:func:`tradeoff_curve`), on the tuning samples and the same thresholds on the test samples, the
    chosen combination marked on both."""
    n_extra = len(stages) - 1
    fig, axes = new_figure(1, n_extra, figsize=(5.0 * n_extra, 3.8))
    grid = result.grid
    label = "accuracy" if grid.criterion == "accuracy" else "macro F1"
    n_classes = next(out.n_classes for out in result.outputs if out is not None)

    def on_test(i: int) -> tuple[np.ndarray, float]:
        staged = staged_decision(result.outputs, list(grid.thresholds[i]), result.available)
        reached = 1.0 - np.concatenate([[0.0], np.cumsum(staged.fractions(len(stages)))[:-1]])
        scores = classification_scores(result.y, staged.pred, staged.proba, n_classes)
        return reached, scores["acc"] if grid.criterion == "accuracy" else scores["f1"]

    for j, ax in enumerate(axes[0]):
        s = j + 1
        curve = tradeoff_curve(grid, result.chosen, s)
        ax.plot(grid.reached[curve, s], grid.score[curve], "o-", ms=3, color="tab:blue", label=f"{tuning} (tuning)")
        tested = [on_test(int(i)) for i in curve]
        ax.plot([r[s] for r, _ in tested], [sc for _, sc in tested], "s--", ms=3, color="tab:orange", label="test")
        ax.axhline(grid.reference, color="tab:blue", lw=0.8, ls=":", label=f"stage {len(stages)} alone ({tuning})")
        chosen_reached, chosen_score = on_test(result.chosen)
        ax.plot(grid.reached[result.chosen, s], grid.score[result.chosen], "k*", ms=11, label="chosen")
        ax.plot(chosen_reached[s], chosen_score, "*", color="tab:red", ms=11, label="chosen, on test")
        ax.set_xlabel(f"fraction of samples that needed stage {s + 1}'s omics\n({' + '.join(stages[s])})")
        ax.set_ylabel(f"staged {label}")
        ax.set_xlim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_losses(
    members: Mapping[tuple[str, int, int], _Member], stages: Sequence[tuple[str, ...]], n_models: int, path: Path
) -> Path | None:
    """The fixed split's mean training losses per stage: each view's GCN loss and, fused, the VCDN's."""
    curves: dict[str, np.ndarray] = {}
    for s in range(len(stages)):
        histories = [members[("fixed", s, m)].history for m in range(n_models) if ("fixed", s, m) in members]
        key = "vcdn" if histories and "vcdn" in histories[0] else "view0"
        values = [h[key] for h in histories if key in h and len(h[key])]
        if values and len({len(v) for v in values}) == 1:
            curves[f"stage {s + 1}: {' + '.join(stages[s])} ({'VCDN' if key == 'vcdn' else 'GCN'})"] = np.mean(
                values, axis=0
            )
    if not curves:
        return None
    fig, axes = new_figure(1, 1, figsize=(5.5, 3.6))
    ax = axes[0][0]
    for label, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
    ax.set_xlabel("epoch (after pre-training)")
    ax.set_ylabel("weighted cross-entropy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
