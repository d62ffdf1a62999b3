"""SGUQ: staged graph convolutional networks with uncertainty quantification.

Tao et al., "SGUQ: Staged Graph Convolution Neural Network for Alzheimer's Disease Diagnosis using Multi-Omics
Data" (arXiv:2410.11046, 2024). Multi-omics assays are costly, so SGUQ asks for them one at a time and stops
as soon as the prediction is certain enough:

- **stage 1** classifies a patient from mRNA alone, **stage 2** from mRNA + DNA methylation, **stage 3** from
  all three omics (:data:`DEFAULT_STAGES`); every stage is a MOGONET (:mod:`~sciconv_omics_sguq.models.mogonet`; with
  one omics type that is just the omics-specific GCN and its classifier).
- **Ensembles** (:func:`train_ensemble`, :func:`ensemble_predict`): each stage trains ``M = 10`` models
  independently (different seeds; trained side by side in one run for speed, each member the same as if
  trained alone). For sample ``i``, member ``m`` gives class probabilities ``p_m[i]``; the
  prediction is the **majority vote** of the members' ``argmax`` (a tie goes to the tied class with the larger
  mean probability, then to the smaller class index), and the **uncertainty** is the population standard
  deviation (``ddof=0``, ``np.std``'s default, as in the official code) over members of the probability of the
  predicted class: ``u_i = sqrt(mean_m (p_m[i, k_i] - mean_m p_m[i, k_i])^2)``, ``k_i`` the vote.
- **Staged decision** (:func:`staged_decision`): a sample is decided at the first stage ``s`` whose
  uncertainty is at or below the stage's threshold, ``u_is <= t_s``; the last stage decides everyone left.
  A sample lacking a later stage's omics is decided at its last available stage (``forced``).
- **Thresholds** (:func:`choose_thresholds`) are picked on tuning samples (never the test samples: the
  task uses out-of-fold or validation predictions) by a joint grid search (:func:`threshold_grid`, every
  combination of candidate thresholds scored) and a rule (:meth:`ThresholdGrid.choose`): ``best`` maximises the
  staged accuracy (or macro F1), preferring, among equally good choices, the ones that decide more samples
  earlier (cheaper); ``within`` takes the loosest thresholds (the most samples decided early) whose staged score
  stays within a tolerance of the last stage's score on the same samples.

**The official code** (github.com/chenzhao2023/multiomicsuncertainty, ``main_uncertainty.py``) differs in
details that are documented here rather than reproduced: (1) with two classes its sd is that of each member's
probability of class 1, which equals the sd of the predicted class's probability used here (``p_0 = 1 -
p_1``); with more classes it takes each member's *own* top probability, available here as
``uncertainty="member_max"``; (2) its majority vote breaks ties by the first-trained member's class
(``Counter.most_common``), here by the larger mean probability, which does not depend on the order of the
members; (3) each member keeps the epoch of best *test* accuracy (checked every 50 epochs), which uses the test
labels; here every member is trained for the full schedule. In its ROSMAP results file (106 test samples: 49
decided at stage 1, 17 at stage 2, 40 at stage 3, the published 46.23 % and 16.04 %), the decided samples'
sd reaches 0.052 at stage 1 and 0.102 at stage 2. Published ACC 0.858.

**Cost** (:meth:`StagedResult.tests_saved`): a sample decided at stage ``s`` needed the omics of stages
``0 .. s`` (for the default, nested stages: ``s + 1`` assays); the saving is ``1 - assays used / assays if every
sample went through the last stage``. On the official ROSMAP split above: ``1 - (49 * 1 + 17 * 2 + 40 * 3) /
(106 * 3) = 0.362``.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed
from sciconv_omics_sguq.mogonet_training import FittedMOGONET, train_mogonet_members

__all__ = [
    "DEFAULT_STAGES",
    "RULES",
    "EnsembleOutput",
    "StagedResult",
    "ThresholdGrid",
    "choose_thresholds",
    "ensemble_predict",
    "member_chunks",
    "member_seed",
    "staged_decision",
    "threshold_grid",
    "train_ensemble",
]

DEFAULT_STAGES: tuple[tuple[str, ...], ...] = (("mrna",), ("mrna", "meth"), ("mrna", "meth", "mirna"))
"""SGUQ's stages: the omics (modality names of :mod:`~sciconv_omics_sguq.mogonet_io`) each stage's model uses."""

_UNCERTAINTIES = ("predicted", "member_max", "mean_probability")
_CRITERIA = ("accuracy", "f1")


# ---------------------------------------------------------------------------------------------------------
# ensembles


@dataclass
class EnsembleOutput:
    """An ensemble's predictions for N samples.

    Attributes:
        member_proba: ``(M, N, C)`` each member's class probabilities.
        proba: ``(N, C)`` their mean over members.
        pred: ``(N,)`` int, majority vote of the members' ``argmax`` (ties: the larger mean probability, then
            the smaller class index); ``-1`` in rows of samples without predictions (see :meth:`expand`).
        uncertainty: ``(N,)`` SGUQ's uncertainty, the population sd (``ddof=0``) over members of the
            probability of the predicted class.
    """

    member_proba: np.ndarray
    proba: np.ndarray
    pred: np.ndarray
    uncertainty: np.ndarray

    @classmethod
    def from_member_proba(cls, member_proba: np.ndarray, *, uncertainty: str = "predicted") -> EnsembleOutput:
        """Vote, mean and uncertainty from the members' probabilities ``(M, N, C)``.

        Args:
            member_proba: ``(M, N, C)`` class probabilities, ``M >= 1`` members.
            uncertainty: ``"predicted"``: sd over members of the probability of the voted class (SGUQ; the
                official code's definition with two classes); ``"member_max"``: sd of each member's own top
                probability (the official code's definition with more classes); ``"mean_probability"``: one
                minus the ensemble's mean probability of the voted class (the deep-ensemble confidence of
                Lakshminarayanan et al. 2017, not SGUQ's: it measures how sure the members are, where the sd
                measures how much they disagree).
        """
        p = np.asarray(member_proba, dtype=np.float64)
        if p.ndim != 3 or p.shape[0] == 0 or p.shape[2] == 0:
            raise DataError(f"member_proba: expected shape (members, samples, classes), got {p.shape}")
        if not np.isfinite(p).all():
            raise DataError("member_proba: expected finite probabilities, found NaN or inf")
        if uncertainty not in _UNCERTAINTIES:
            raise ConfigError(f"uncertainty: expected one of {_UNCERTAINTIES}, got {uncertainty!r}")
        n_classes = p.shape[2]
        proba = p.mean(axis=0)
        votes = np.eye(n_classes, dtype=np.int64)[p.argmax(axis=2)].sum(axis=0)  # (N, C)
        tied = votes == votes.max(axis=1, keepdims=True)
        pred = np.where(tied, proba, -np.inf).argmax(axis=1)  # argmax: first (smallest) class on equal means
        if uncertainty == "mean_probability":
            unc = 1.0 - proba[np.arange(p.shape[1]), pred]
        else:
            chosen = p[:, np.arange(p.shape[1]), pred] if uncertainty == "predicted" else p.max(axis=2)
            unc = chosen.std(axis=0)  # population sd, ddof=0
        return cls(p, proba, pred.astype(np.int64), unc)

    @property
    def n_members(self) -> int:
        return self.member_proba.shape[0]

    @property
    def n_classes(self) -> int:
        return self.proba.shape[1]

    def __len__(self) -> int:
        return self.proba.shape[0]

    def expand(self, rows: np.ndarray) -> EnsembleOutput:
        """This output's samples placed at ``rows`` of a larger set, for :func:`staged_decision`.

        Args:
            rows: a bool mask ``(N_all,)`` with ``len(self)`` True entries (e.g. which samples have the stage's
                omics), the rows this output's samples take in order.

        Returns:
            An output for ``N_all`` samples: these predictions at ``rows``; NaN probabilities and uncertainty
            and ``pred = -1`` elsewhere.
        """
        mask = np.asarray(rows)
        if mask.dtype != bool or mask.ndim != 1 or int(mask.sum()) != len(self):
            raise DataError(
                f"expand: expected a 1D bool mask with {len(self)} True entries (one per sample of this output), "
                f"got dtype {mask.dtype}, shape {mask.shape}, {int(np.count_nonzero(mask))} non-zero"
            )
        n, (m, _, c) = len(mask), self.member_proba.shape
        member_proba = np.full((m, n, c), np.nan)
        member_proba[:, mask] = self.member_proba
        proba = np.full((n, c), np.nan)
        proba[mask] = self.proba
        pred = np.full(n, -1, dtype=np.int64)
        pred[mask] = self.pred
        unc = np.full(n, np.nan)
        unc[mask] = self.uncertainty
        return EnsembleOutput(member_proba, proba, pred, unc)


def member_seed(seed: int, i: int) -> int:
    """The seed of ensemble member ``i``: ``derive_seed(seed, f"member{i}")``, independent of the others."""
    return derive_seed(seed, f"member{i}")


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def member_chunks(n_models: int, n_chunks: int) -> list[list[int]]:
    """Members ``0 .. n_models - 1`` in ``min(n_chunks, n_models)`` consecutive chunks of near-equal size."""
    n_models = _check_int("n_models", n_models, 1)
    n_chunks = min(_check_int("n_chunks", n_chunks, 1), n_models)
    size, extra = divmod(n_models, n_chunks)
    bounds = np.cumsum([0] + [size + (c < extra) for c in range(n_chunks)])
    return [list(range(int(a), int(b))) for a, b in itertools.pairwise(bounds)]


def train_ensemble(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    n_models: int = 10,
    seed: int,
    n_jobs: int = 1,
    **mogonet_params: object,
) -> list[FittedMOGONET]:
    """Train ``n_models`` MOGONETs independently, member ``i`` seeded with :func:`member_seed` ``(seed, i)``.

    The members train together (:func:`~sciconv_omics_sguq.mogonet_training.train_mogonet_members`: each member is the
    model :func:`~sciconv_omics_sguq.mogonet_training.train_mogonet` trains with its seed, to float32 rounding). With
    ``n_jobs > 1`` they are split into ``n_jobs`` consecutive chunks (:func:`member_chunks`), each trained
    together in one of joblib's loky processes, single-threaded (MOGONET's default ``num_threads=1``). A
    member's results do not depend on the chunk it is trained in, so the members, and everything computed
    from them, are the same whatever ``n_jobs``.

    Args:
        views_train: one ``(N, F_v)`` array per omics type of the stage (one for SGUQ's stage 1).
        y_train: ``(N,)`` integer labels.
        n_models: ensemble size ``M`` (SGUQ: 10).
        seed: the ensemble's seed.
        n_jobs: parallel processes (joblib's convention: ``-1`` all cores); at most ``n_models`` are started.
        **mogonet_params: passed to :func:`~sciconv_omics_sguq.mogonet_training.train_mogonet_members` (``hidden``,
            ``epochs``, ...); ``on_epoch`` (called with every member's losses) only with ``n_jobs=1``.

    Returns:
        The fitted members, in order ``0 .. n_models - 1``.

    Raises:
        ConfigError: bad ``n_models``/``n_jobs``/MOGONET parameters.
        DataError: bad views or labels.
    """
    n_models = _check_int("n_models", n_models, 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ConfigError(f"n_jobs: expected a non-zero integer (-1: all cores), got {n_jobs!r}")
    n_jobs = min(effective_n_jobs(int(n_jobs)), n_models)
    if mogonet_params.get("on_epoch") is not None and n_jobs != 1:
        raise ConfigError("on_epoch: callbacks cannot report from worker processes; use n_jobs=1")
    seeds = [member_seed(seed, i) for i in range(n_models)]
    if n_jobs == 1:
        return train_mogonet_members(views_train, y_train, seeds=seeds, **mogonet_params)
    views = [np.asarray(x) for x in views_train] if isinstance(views_train, Sequence) else views_train
    labels = np.asarray(y_train)
    chunks = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(train_mogonet_members)(views, labels, seeds=[seeds[i] for i in chunk], **mogonet_params)
        for chunk in member_chunks(n_models, n_jobs)
    )
    return [member for chunk in chunks for member in chunk]


def ensemble_predict(
    members: Sequence[FittedMOGONET], views_test: Sequence[np.ndarray], *, uncertainty: str = "predicted"
) -> EnsembleOutput:
    """The ensemble's vote, mean probabilities and uncertainty on test samples.

    Args:
        members: fitted members (:func:`train_ensemble`), all with the same classes and views.
        views_test: one ``(N, F_v)`` array per omics type, as in training.
        uncertainty: ``"predicted"`` (SGUQ) or ``"member_max"``, see :meth:`EnsembleOutput.from_member_proba`.
    """
    if isinstance(members, FittedMOGONET) or not isinstance(members, Sequence) or len(members) == 0:
        raise DataError(f"members: expected a non-empty list of FittedMOGONET, got {type(members).__name__}")
    classes = {m.n_classes for m in members}
    if len(classes) > 1:
        raise DataError(f"members: predict different numbers of classes {sorted(classes)}")
    return EnsembleOutput.from_member_proba(
        np.stack([m.predict_proba(views_test) for m in members]), uncertainty=uncertainty
    )


# ---------------------------------------------------------------------------------------------------------
# staged decision


@dataclass
class StagedResult:
    """Where and how each sample was decided.

    Attributes:
        stage: ``(N,)`` int, the 0-based stage that decided each sample.
        pred: ``(N,)`` int, its prediction (the deciding stage's vote).
        proba: ``(N, C)`` the deciding stage's mean probabilities.
        uncertainty: ``(N,)`` the deciding stage's uncertainty.
        forced: ``(N,)`` bool, decided at its last available stage, above that stage's threshold, because a
            later stage's omics were missing.
    """

    stage: np.ndarray
    pred: np.ndarray
    proba: np.ndarray
    uncertainty: np.ndarray
    forced: np.ndarray

    def fractions(self, n_stages: int) -> np.ndarray:
        """``(n_stages,)`` the fraction of samples decided at each stage (zeros for no samples)."""
        n_stages = _check_int("n_stages", n_stages, 1)
        if len(self.stage) and int(self.stage.max()) >= n_stages:
            raise ConfigError(f"n_stages: samples were decided at stage {int(self.stage.max())}, got {n_stages}")
        counts = np.bincount(self.stage, minlength=n_stages).astype(np.float64)
        return counts / len(self.stage) if len(self.stage) else counts

    def tests_saved(self, stages: Sequence[Sequence[str]] = DEFAULT_STAGES) -> float:
        """The fraction of omics assays not needed: ``1 - assays used / (N * assays of all stages)``.

        A sample decided at stage ``s`` used the omics of stages ``0 .. s`` (their union: ``len(stages[s])``
        for nested stages); the reference runs every sample through all stages' omics. An assay a sample
        lacked (``forced`` decisions) counts as not used. 0.0 for no samples.

        Args:
            stages: each stage's omics names, e.g. :data:`DEFAULT_STAGES`.
        """
        if isinstance(stages, str) or not isinstance(stages, Sequence) or len(stages) == 0:
            raise ConfigError(f"stages: expected a non-empty sequence of omics-name tuples, got {stages!r}")
        sets = [{stages_s} if isinstance(stages_s, str) else set(stages_s) for stages_s in stages]
        if len(self.stage) and int(self.stage.max()) >= len(sets):
            raise ConfigError(f"stages: samples were decided at stage {int(self.stage.max())}, got {len(sets)} stages")
        cumulative = np.array([len(set().union(*sets[: s + 1])) for s in range(len(sets))], dtype=np.float64)
        if not len(self.stage) or cumulative[-1] == 0:
            return 0.0
        return float(1.0 - cumulative[self.stage].sum() / (len(self.stage) * cumulative[-1]))


@dataclass
class _Checked:
    """Validated stage outputs as ``(N, S)`` arrays; unavailable entries hold NaN / -1."""

    available: np.ndarray  # (N, S) bool
    unc: np.ndarray  # (N, S) float
    pred: np.ndarray  # (N, S) int
    last: np.ndarray  # (N,) last available stage
    n_classes: int


def _check_outputs(
    outputs: Sequence[EnsembleOutput | None], available: np.ndarray, sample_ids: Sequence[str] | None
) -> _Checked:
    if isinstance(outputs, EnsembleOutput) or not isinstance(outputs, Sequence) or len(outputs) == 0:
        raise DataError(f"outputs: expected a non-empty list of EnsembleOutput (one per stage), got {type(outputs)}")
    n_stages = len(outputs)
    avail = np.asarray(available)
    if avail.ndim != 2 or avail.shape[1] != n_stages:
        raise DataError(
            f"available: expected a (samples, {n_stages}) bool array, one column per stage, got {avail.shape}"
        )
    if avail.dtype != bool:
        if not np.isin(avail, (0, 1)).all():
            raise DataError(f"available: expected bool values, got dtype {avail.dtype}")
        avail = avail.astype(bool)
    n = avail.shape[0]
    if sample_ids is not None and len(sample_ids) != n:
        raise DataError(f"sample_ids: expected {n} ids (one per sample), got {len(sample_ids)}")
    none_at = avail.sum(axis=1) == 0
    if none_at.any():
        where = np.flatnonzero(none_at)
        names = [str(sample_ids[i]) for i in where] if sample_ids is not None else [str(i) for i in where]
        shown = ", ".join(names[:10]) + (f", ... ({len(names) - 10} more)" if len(names) > 10 else "")
        label = "ids" if sample_ids is not None else "indices"
        raise DataError(
            f"{len(where)} of {n} samples have the omics of no stage, so no stage can decide them ({label} {shown})"
        )
    unc = np.full((n, n_stages), np.nan)
    pred = np.full((n, n_stages), -1, dtype=np.int64)
    n_classes: int | None = None
    for s, out in enumerate(outputs):
        if out is None:
            if avail[:, s].any():
                raise DataError(f"outputs[{s}] is None but {int(avail[:, s].sum())} samples have stage {s}'s omics")
            continue
        if not isinstance(out, EnsembleOutput):
            raise DataError(f"outputs[{s}]: expected an EnsembleOutput or None, got {type(out).__name__}")
        if out.proba.ndim != 2 or len(out) != n or out.pred.shape != (n,) or out.uncertainty.shape != (n,):
            raise DataError(
                f"outputs[{s}]: expected predictions for all {n} samples (rows of samples without the stage's omics "
                f"are ignored; EnsembleOutput.expand places a subset), got {len(out)}"
            )
        if n_classes is None:
            n_classes = out.n_classes
        elif out.n_classes != n_classes:
            raise DataError(f"outputs[{s}]: {out.n_classes} classes, but an earlier stage has {n_classes}")
        rows = avail[:, s]
        u, p = np.asarray(out.uncertainty, dtype=np.float64)[rows], np.asarray(out.pred)[rows]
        if not np.isfinite(u).all():
            raise DataError(f"outputs[{s}]: NaN or inf uncertainty for samples that have stage {s}'s omics")
        if ((p < 0) | (p >= n_classes)).any():
            raise DataError(f"outputs[{s}]: predicted classes outside 0 .. {n_classes - 1} for available samples")
        unc[rows, s], pred[rows, s] = u, p
    if n_classes is None:  # only possible without samples
        raise DataError("outputs: every stage's output is None")
    last = n_stages - 1 - np.argmax(avail[:, ::-1], axis=1)
    return _Checked(avail, unc, pred, last, n_classes)


def _check_thresholds(thresholds: Sequence[float], n_stages: int) -> np.ndarray:
    try:
        t = np.asarray(thresholds, dtype=np.float64) if isinstance(thresholds, Sequence | np.ndarray) else None
    except (TypeError, ValueError):
        t = None
    if t is None or t.ndim != 1 or len(t) != n_stages - 1:
        raise ConfigError(
            f"thresholds: expected {n_stages - 1} numbers (one per stage but the last, which decides everyone left), "
            f"got {thresholds!r}"
        )
    if np.isnan(t).any():
        raise ConfigError(f"thresholds: expected numbers, got NaN in {thresholds!r}")
    return t


def staged_decision(
    outputs: Sequence[EnsembleOutput | None],
    thresholds: Sequence[float],
    available: np.ndarray,
    *,
    sample_ids: Sequence[str] | None = None,
) -> StagedResult:
    """Decide each sample at the first available stage whose uncertainty is at or below its threshold.

    Sample ``i`` goes through the stages it has the omics of, in order; it is decided at stage ``s`` if
    ``uncertainty_s[i] <= thresholds[s]``, at the last stage in any case, and at its last available stage if
    no later stage is available (``forced`` when its uncertainty there is above the threshold).

    Args:
        outputs: stage ``s``'s :class:`EnsembleOutput` for all N samples (rows of samples without the stage's
            omics are ignored; ``None`` for a stage no sample has).
        thresholds: ``S - 1`` uncertainty thresholds (``0``: only certain-beyond-doubt samples stop early;
            ``inf``: everyone stops at their first available stage).
        available: ``(N, S)`` bool, which samples have stage ``s``'s omics.
        sample_ids: names of the samples, for error messages.

    Raises:
        DataError: a sample with no available stage (names how many and which), inconsistent outputs.
        ConfigError: a wrong number of thresholds.
    """
    checked = _check_outputs(outputs, available, sample_ids)
    n_stages = len(outputs)
    t = _check_thresholds(thresholds, n_stages)
    n = checked.available.shape[0]
    confident = checked.available.copy()
    with np.errstate(invalid="ignore"):
        confident[:, :-1] &= checked.unc[:, :-1] <= t
    decides = confident | (np.arange(n_stages) == checked.last[:, None])
    stage = np.argmax(decides, axis=1)
    rows = np.arange(n)
    forced = ~confident[rows, stage] & (stage < n_stages - 1)
    proba = np.full((n, checked.n_classes), np.nan)
    for s, out in enumerate(outputs):
        at = stage == s
        if out is not None and at.any():
            proba[at] = out.proba[at]
    return StagedResult(stage, checked.pred[rows, stage], proba, checked.unc[rows, stage], forced)


# ---------------------------------------------------------------------------------------------------------
# thresholds


def _candidates(u: np.ndarray, candidates: int) -> np.ndarray:
    """0 and the ``k / (candidates - 1)`` quantiles (``k = 1 .. candidates - 1``, observed values), unique."""
    if len(u) == 0:
        return np.zeros(1)
    levels = np.linspace(0.0, 1.0, candidates)[1:]
    return np.unique(np.concatenate([[0.0], np.quantile(u, levels, method="inverted_cdf")]))


def _scores(pred: np.ndarray, y: np.ndarray, n_classes: int, criterion: str) -> np.ndarray:
    """Accuracy (as a count of correct samples, exact) or macro F1 over the last axis of ``pred``."""
    if criterion == "accuracy":
        return (pred == y).sum(axis=-1).astype(np.float64)
    total = np.zeros(pred.shape[:-1])
    present = np.zeros(pred.shape[:-1])
    for c in range(n_classes):
        is_c, true_c = pred == c, y == c
        tp = (is_c & true_c).sum(axis=-1)
        wrong = (is_c != true_c).sum(axis=-1)  # fp + fn
        denom = 2 * tp + wrong
        total += np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        present += denom > 0  # scikit-learn's macro F1: classes in y or in the predictions
    return np.round(total / np.maximum(present, 1), 12)


def _advance(
    here: np.ndarray, stage_pred: np.ndarray, s: int, pred: np.ndarray, stage: np.ndarray, undecided: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record the samples decided ``here`` at stage ``s`` (arrays broadcast over the threshold grid)."""
    return np.where(here, stage_pred, pred), np.where(here, s, stage), undecided & ~here


RULES = ("best", "within")
"""How :meth:`ThresholdGrid.choose` picks thresholds: ``best`` maximises the staged score (then decides early);
``within`` decides as many samples as early as possible while the staged score stays within a tolerance of the
score every sample gets at its last stage."""


@dataclass
class ThresholdGrid:
    """Every combination of the joint threshold grid search with its outcome on the tuning samples.

    Attributes:
        thresholds: ``(K, S - 1)`` the combinations.
        score: ``(K,)`` the staged accuracy (a fraction) or macro F1 of each.
        decided: ``(K, S)`` the fraction of the samples decided at each stage.
        reference: the score when every sample is decided at its last available stage (the full-omics
            ensemble's, without missing modalities): what staging is measured against.
        criterion: ``"accuracy"`` or ``"f1"``.
    """

    thresholds: np.ndarray
    score: np.ndarray
    decided: np.ndarray
    reference: float
    criterion: str

    def __len__(self) -> int:
        return len(self.score)

    @property
    def reached(self) -> np.ndarray:
        """``(K, S)`` the fraction of samples that reached stage ``s`` (needed its omics test): 1 at stage 0."""
        done = np.cumsum(self.decided, axis=1)
        return np.concatenate([np.ones((len(self), 1)), 1.0 - done[:, :-1]], axis=1).clip(0.0, 1.0)

    def feasible(self, tolerance: float) -> np.ndarray:
        """``(K,)`` bool: the combinations whose score is at least ``reference - tolerance``."""
        return self.score >= self.reference - float(tolerance) - 1e-12

    def choose(self, rule: str = "best", tolerance: float = 0.0) -> int:
        """The index of the chosen combination.

        ``best``: the highest score; among equal scores the one deciding the most samples at stage 0, then at
        stage 1, ...; then the smallest thresholds. ``within``: among the combinations whose score is at least
        ``reference - tolerance``, the one deciding the most samples at stage 0, then at stage 1, ... (the
        loosest thresholds that keep the score), then the highest score, then the smallest thresholds; when
        none qualifies, ``best``'s choice (see :meth:`feasible`).
        """
        if rule not in RULES:
            raise ConfigError(f"rule: expected one of {RULES}, got {rule!r}")
        if not isinstance(tolerance, numbers.Real) or not 0.0 <= float(tolerance) <= 1.0:
            raise ConfigError(f"tolerance: expected a number in [0, 1], got {tolerance!r}")
        counts = [-self.decided[:, s] for s in range(self.decided.shape[1] - 1)]
        thr = [self.thresholds[:, s] for s in range(self.thresholds.shape[1])]
        if rule == "within" and self.feasible(tolerance).any():
            ok = self.feasible(tolerance)
            # lexsort: the last key is the primary one; all ascending, so negate what is maximised
            order = np.lexsort([*thr[::-1], -self.score, *counts[::-1], ~ok])
        else:
            order = np.lexsort([*thr[::-1], *counts[::-1], -self.score])
        return int(order[0])


def threshold_grid(
    outputs: Sequence[EnsembleOutput | None],
    y: np.ndarray,
    available: np.ndarray,
    *,
    criterion: str = "accuracy",
    candidates: int = 41,
    sample_ids: Sequence[str] | None = None,
) -> ThresholdGrid:
    """Score every combination of candidate thresholds on the given (tuning) samples.

    Stage ``s < S - 1`` tries 0 and the ``1/(K-1), 2/(K-1), .., 1`` quantiles (observed values, the last one the
    maximum) of its uncertainties over the samples that have its omics, ``K = candidates`` (duplicates removed),
    and every combination over the stages is scored by :func:`staged_decision`'s outcome. Vectorised over the
    last two thresholds (41^2 combinations x 100 samples take milliseconds); earlier ones, for ``S > 3``, in a
    loop.

    Args:
        outputs, available, sample_ids: as for :func:`staged_decision`.
        y: ``(N,)`` the samples' integer labels.
        criterion: ``"accuracy"`` or ``"f1"`` (macro F1, as scikit-learn's ``f1_score(average="macro")``).
        candidates: ``K >= 2`` candidate thresholds per stage.
    """
    if criterion not in _CRITERIA:
        raise ConfigError(f"criterion: expected one of {_CRITERIA}, got {criterion!r}")
    candidates = _check_int("candidates", candidates, 2)
    checked = _check_outputs(outputs, available, sample_ids)
    n, n_stages = checked.available.shape
    labels = np.asarray(y)
    if labels.shape != (n,) or not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_)):
        raise DataError(f"y: expected {n} integer labels, got dtype {labels.dtype}, shape {labels.shape}")
    labels = labels.astype(np.int64)
    n_thr = n_stages - 1
    last_pred = checked.pred[np.arange(n), checked.last]
    reference = float(_scores(last_pred, labels, checked.n_classes, criterion)) / (n if criterion == "accuracy" else 1)
    if n_thr == 0:
        return ThresholdGrid(np.zeros((1, 0)), np.array([reference]), np.ones((1, 1)), reference, criterion)
    grids = [_candidates(checked.unc[checked.available[:, s], s], candidates) for s in range(n_thr)]
    # decides[s][k, i]: stage s decides sample i under its k-th candidate threshold (if it gets that far)
    decides = []
    for s, grid in enumerate(grids):
        with np.errstate(invalid="ignore"):
            confident = checked.unc[None, :, s] <= grid[:, None]
        decides.append(checked.available[None, :, s] & (confident | (checked.last == s)[None]))

    n_loop = max(0, n_thr - 2)
    keys: list[list[np.ndarray]] = []  # per block: [score, count_0 .., count_{S-1}, thr_0 .., thr_{T-1}]
    for prefix in itertools.product(*(range(len(g)) for g in grids[:n_loop])):
        undecided = np.ones(n, dtype=bool)
        pred = np.full(n, -1, dtype=np.int64)
        stage = np.full(n, n_stages - 1, dtype=np.int64)
        for s, k in enumerate(prefix):
            here = undecided & decides[s][k]
            pred, stage, undecided = _advance(here, checked.pred[:, s], s, pred, stage, undecided)
        vec = list(range(n_loop, n_thr))  # the stages vectorised over, one grid axis each
        shape = [len(grids[s]) for s in vec]
        for j, s in enumerate(vec):
            d = decides[s].reshape([len(grids[s]) if a == j else 1 for a in range(len(vec))] + [n])
            here = undecided & d
            pred, stage, undecided = _advance(here, checked.pred[:, s], s, pred, stage, undecided)
        pred = np.where(undecided, checked.pred[:, n_stages - 1], pred)  # the rest: last stage, available to them
        pred, stage = np.broadcast_to(pred, [*shape, n]), np.broadcast_to(stage, [*shape, n])
        block = [_scores(pred, labels, checked.n_classes, criterion).ravel()]
        block += [(stage == s).sum(axis=-1).ravel() for s in range(n_stages)]
        mesh = np.meshgrid(*(grids[s] for s in vec), indexing="ij")
        size = block[0].size
        block += [np.full(size, grids[s][k]) for s, k in enumerate(prefix)] + [m.ravel() for m in mesh]
        keys.append(block)
    cols = [np.concatenate(parts) for parts in zip(*keys, strict=True)]
    score = cols[0] / (n if criterion == "accuracy" else 1)  # a count of correct samples: the same for equal counts
    decided = np.stack(cols[1 : 1 + n_stages], axis=1).astype(np.float64) / n
    thresholds = np.stack(cols[1 + n_stages :], axis=1)
    return ThresholdGrid(thresholds, score, decided, reference, criterion)


def choose_thresholds(
    outputs: Sequence[EnsembleOutput | None],
    y: np.ndarray,
    available: np.ndarray,
    *,
    criterion: str = "accuracy",
    candidates: int = 41,
    rule: str = "best",
    tolerance: float = 0.0,
    sample_ids: Sequence[str] | None = None,
) -> list[float]:
    """Thresholds for the staged decision, chosen on the given (tuning) samples by a joint grid search.

    The combinations of :func:`threshold_grid` are compared by ``rule`` (:meth:`ThresholdGrid.choose`):
    ``best`` (default) maximises the staged accuracy (or macro F1); among equally good combinations the one
    deciding the most samples at stage 0 wins, then at stage 1, and so on (fewer assays); among those deciding
    the same samples, the smallest thresholds (for stage 0: the largest uncertainty among the samples it
    decides). ``within`` decides as many samples as early as possible while the staged score stays at least the
    last stage's score minus ``tolerance``.

    Args:
        outputs, available, sample_ids: as for :func:`staged_decision`.
        y: ``(N,)`` the samples' integer labels.
        criterion: ``"accuracy"`` or ``"f1"`` (macro F1, as scikit-learn's ``f1_score(average="macro")``).
        candidates: ``K >= 2`` candidate thresholds per stage.
        rule, tolerance: see :meth:`ThresholdGrid.choose`.

    Returns:
        ``S - 1`` thresholds (an empty list for one stage).
    """
    if rule not in RULES:
        raise ConfigError(f"rule: expected one of {RULES}, got {rule!r}")
    grid = threshold_grid(outputs, y, available, criterion=criterion, candidates=candidates, sample_ids=sample_ids)
    if grid.thresholds.shape[1] == 0:
        return []
    return [float(t) for t in grid.thresholds[grid.choose(rule, tolerance)]]
