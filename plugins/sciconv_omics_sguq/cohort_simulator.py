"""A simulator of multi-omics cohorts (mRNA, DNA methylation, miRNA of brain tissue) for AD diagnosis.

:func:`simulate_cohort` returns the MuData form of :mod:`sciconv_omics_sguq.mogonet_io`;
:func:`write_simulated_cohort` writes it in MOGONET's CSV layout, which
:func:`~sciconv_omics_sguq.mogonet_io.read_mogonet` reads exactly as it reads the preprocessed ROSMAP folder
(omics 1 mRNA, 2 methylation, 3 miRNA; 245 training and 106 test samples of 200 features by default). All
randomness comes from ``seed``; each part of the cohort (labels, covariates, each omics, the missing pattern)
draws from its own child stream, so that e.g. changing the missing fractions leaves every value unchanged.

Samples. Each split holds exactly ``round(p_c * n)`` samples of class c (largest remainders), with class
proportions ``class_balance`` (default equal), in random order. Classes are ordered disease stages
(binary: 0 control, 1 AD).

Disease. A continuous AD pathology severity ``s_i = class_separation * (y_i - (C - 1) / 2) + N(0, 1)``
(amyloid and tau burden on a standardised scale): higher in cases, and overlapping between classes. Each
omics layer m sees the pathology through its own sample-level disease signal
``d_im = s_i + N(0, signal_noise[m]^2)``: how strongly an individual's transcriptome, methylome or miRNome
responds to a given pathology varies (resilience, comorbidities, cell-type shifts), independently between the
layers. A model of one layer can therefore never do better than that layer's ``d_im`` allows, while combining
layers averages the layer-specific deviations out: the reason multi-omics helps. The defaults make mRNA the
most informative layer, methylation intermediate and miRNA the weakest. A standardised logistic regression
(scikit-learn, ``C=0.1``) trained on the 245 training samples reaches on the 106 test samples, averaged over
seeds 0-19: 78 % on mRNA alone, 74 % on methylation, 70 % on miRNA and 86 % on the three together
(``tests/plugins/omics_sguq/test_cohort_simulator.py`` checks this ordering). The same model on the real
ROSMAP folder gives 79 %, 69 %, 64 % and 80 %. ``class_separation`` bounds what any model can reach: Phi(4 / 2)
= 98 % for the default 4.0.

Features. In standard-deviation units (unit residual noise), feature j of layer m for sample i is::

    z_ij = a_j d_im + g_j age_i + h_j sex_i + batch_{b_im, j} + w_j u_{i, k_j} + e_ij,   e_ij ~ N(0, 1)

- ``a_j``: disease loading, non-zero for a fraction ``informative_fraction`` of the features (the
  differentially expressed genes, differentially methylated CpGs and miRNAs), ``effect_sizes[m] *
  LogNormal(0, 0.25)`` with a random sign (up- or down-regulated in AD).
- Methylation: a third of the informative CpGs are promoter CpGs of informative genes, with a disease
  loading opposite to their gene's (promoter hypermethylation silences a gene, so methylation and expression
  are inversely correlated); each such gene's expression also carries ``-0.5`` times its CpG's residual
  ``e``: an individual's methylation represses the gene beyond the disease effect.
- Age (years; ``age_i ~ N(86, 6) + 0.75 s_i``: cases die somewhat older, as in ROSMAP's autopsied
  cohort), entering standardised, with loading ``g_j ~ N(0, 0.3)`` on 15 % of the genes and miRNAs and
  ``N(0, 0.6)`` on 30 % of the CpGs (the epigenetic clock); sex (``sex_i`` 1 female with probability 0.63,
  centred), with loading ``h_j = ±2`` on 2 % of the features (sex-chromosome genes, CpGs and miRNAs:
  bimodal features).
- Batch: each layer's samples were processed in ``n_batches`` batches (independent between layers), shifting
  every feature by ``N(0, 0.3)`` per batch.
- Co-expression modules: each feature belongs to one of ``n_modules`` modules whose activity ``u ~ N(0, 1)``
  it follows with loading ``w_j ~ ±U(0.3, 0.8)``: correlated nuisance such as cell-type composition.

Measurement scale. The standardised values become the layer's measured quantity: mRNA log2 expression
``N(7, 1.5) + 0.35 r_j z_ij``; methylation beta values ``1 / (1 + 2^-M)`` of M-values ``mu_j + 0.35 r_j
z_ij`` whose baselines ``mu_j`` are hypomethylated (N(-3, 1), 50 %), hypermethylated (N(2.5, 1), 40 %) or
intermediate (N(0, 0.7), 10 %); miRNA log2 counts ``N(8, 2) + 0.5 r_j z_ij`` (``r_j ~ LogNormal(0, 0.3)``).
Each layer's matrix is then min-max scaled to [0, 1] as a whole (over the present samples of both
splits), as MOGONET's
preprocessed ROSMAP matrices are: there the values of every omics span [0, 1] overall while each feature's
own spread is narrow (median standard deviation 0.03-0.05), which these scales reproduce.

Missing modalities. ``missing_fractions[m]`` of each split's samples lack layer m (exactly
``round(f * n)``, chosen at random, independently of the disease: missing completely at random), never
leaving a sample without any layer. mRNA is always present by default; the default fractions are 0, as in
ROSMAP.

Every invalid parameter is a :class:`~sciconv.errors.ConfigError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sciconv.errors import ConfigError, did_you_mean
from sciconv_omics_sguq.mogonet_io import SPLITS, _assemble, _sample_ids, write_mogonet

SIMULATOR_VERSION = 1
"""Part of the simulation cache's key (:func:`sciconv.kit.cached_simulation`): raise it whenever a change here
changes the simulated data for the same parameters, so that cached files written before are not reused."""

if TYPE_CHECKING:
    from mudata import MuData

MODALITIES: tuple[str, ...] = ("mrna", "meth", "mirna")
DEFAULT_EFFECT_SIZES: dict[str, float] = {"mrna": 0.6, "meth": 0.5, "mirna": 0.45}
DEFAULT_SIGNAL_NOISE: dict[str, float] = {"mrna": 1.8, "meth": 2.4, "mirna": 2.8}
DEFAULT_MISSING_FRACTIONS: dict[str, float] = {"mrna": 0.0, "meth": 0.0, "mirna": 0.0}

_AGE_MEAN, _AGE_SD, _AGE_SEVERITY = 86.0, 6.0, 0.75  # years
_P_FEMALE = 0.63
_SEX_FRACTION, _SEX_LOADING = 0.02, 2.0
_BATCH_SD = 0.3
_PROMOTER_SHARE, _REPRESSION = 1 / 3, 0.5


# ----------------------------------------------------------------------------------------------------
# Parameters


def _int_at_least(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _per_modality(name: str, value: Any, defaults: Mapping[str, float], low: float, high: float) -> dict[str, float]:
    """A per-modality mapping (missing keys take the defaults; a single number applies to all), checked."""
    if value is None:
        return dict(defaults)
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        value = dict.fromkeys(MODALITIES, float(value))
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must map modalities ({', '.join(MODALITIES)}) to numbers, got {value!r}")
    out = dict(defaults)
    for key, v in value.items():
        if key not in MODALITIES:
            raise ConfigError(
                f"{name}: unknown modality {key!r}{did_you_mean(str(key).lower(), MODALITIES)}; the simulator's are "
                + ", ".join(MODALITIES)
            )
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not low <= float(v) <= high:
            raise ConfigError(f"{name}[{key!r}] must be a number in [{low:g}, {high:g}], got {v!r}")
        out[key] = float(v)
    return out


def _class_proportions(class_balance: Sequence[float] | None, n_classes: int) -> np.ndarray:
    if class_balance is None:
        return np.full(n_classes, 1.0 / n_classes)
    p = np.asarray(class_balance, dtype=float) if isinstance(class_balance, Sequence) else None
    if p is None or p.shape != (n_classes,) or not np.isfinite(p).all() or (p <= 0).any():
        raise ConfigError(
            f"class_balance must hold {n_classes} positive proportions (one per class), got {class_balance!r}"
        )
    return p / p.sum()


def _counts(p: np.ndarray, n: int) -> np.ndarray:
    """``round(p * n)`` that sum to ``n`` (largest remainders)."""
    exact = p * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


# ----------------------------------------------------------------------------------------------------
# Simulation


def _measured(modality: str, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standardised values ``(n, p)`` on the layer's measurement scale (log2 expression, beta, log2 counts)."""
    n_features = z.shape[1]
    spread = rng.lognormal(0.0, 0.3, n_features)
    if modality == "mrna":
        return rng.normal(7.0, 1.5, n_features) + 0.35 * spread * z
    if modality == "mirna":
        return rng.normal(8.0, 2.0, n_features) + 0.5 * spread * z
    kind = rng.choice(3, n_features, p=[0.5, 0.4, 0.1])
    baseline = np.choose(
        kind, [rng.normal(-3.0, 1.0, n_features), rng.normal(2.5, 1.0, n_features), rng.normal(0.0, 0.7, n_features)]
    )
    m_value = baseline + 0.35 * spread * z
    return 1.0 / (1.0 + np.exp2(-m_value))


def _design(
    modality: str,
    p: int,
    n: int,
    severity: np.ndarray,
    effect: float,
    signal_noise: float,
    informative_fraction: float,
    n_modules: int,
    n_batches: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """One layer's draws (standardised units): its disease signal ``d`` (n,), loadings ``a`` (disease), ``g``
    (age), ``h`` (sex), ``w`` (module) of shape (p,), ``module`` (p,), ``batch`` (n,), ``batch_shift``
    (n_batches, p), module activities ``u`` (n, n_modules) and residuals ``e`` (n, p)."""
    d = severity + rng.normal(0.0, signal_noise, n)
    informative = rng.choice(p, max(1, round(informative_fraction * p)), replace=False)
    a = np.zeros(p)
    a[informative] = effect * rng.lognormal(0.0, 0.25, len(informative)) * rng.choice([-1.0, 1.0], len(informative))
    age_share, age_sd = (0.3, 0.6) if modality == "meth" else (0.15, 0.3)
    g = np.where(rng.random(p) < age_share, rng.normal(0.0, age_sd, p), 0.0)
    h = np.where(rng.random(p) < _SEX_FRACTION, _SEX_LOADING * rng.choice([-1.0, 1.0], p), 0.0)
    return {
        "d": d,
        "a": a,
        "g": g,
        "h": h,
        "batch": rng.integers(0, n_batches, n),
        "batch_shift": rng.normal(0.0, _BATCH_SD, (n_batches, p)),
        "module": rng.integers(0, n_modules, p),
        "w": rng.uniform(0.3, 0.8, p) * rng.choice([-1.0, 1.0], p),
        "u": rng.normal(0.0, 1.0, (n, n_modules)),
        "e": rng.normal(0.0, 1.0, (n, p)),
    }


def _min_max(x: np.ndarray) -> np.ndarray:
    low, high = np.nanmin(x), np.nanmax(x)
    return (x - low) / (high - low)


def _missing_pattern(
    n_by_split: dict[str, int], fractions: Mapping[str, float], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Presence ``(n_samples,)`` per modality, samples in split order; no sample loses every modality."""
    present = {m: np.ones(sum(n_by_split.values()), dtype=bool) for m in MODALITIES}
    start = 0
    for split in SPLITS:
        n = n_by_split[split]
        rows = np.arange(start, start + n)
        n_left = np.full(n, len(MODALITIES))
        for m in MODALITIES:
            k = round(fractions[m] * n)
            if k == 0:
                continue
            eligible = np.flatnonzero(n_left > 1)
            if k > len(eligible):
                raise ConfigError(
                    f"missing_fractions {dict(fractions)} would leave some {split} samples without any modality; "
                    "lower them (every sample keeps at least one)"
                )
            chosen = rng.choice(eligible, k, replace=False)
            present[m][rows[chosen]] = False
            n_left[chosen] -= 1
        start += n
    return present


def simulate_cohort(
    n_train: int = 245,
    n_test: int = 106,
    n_features: int | Mapping[str, int] = 200,
    n_classes: int = 2,
    class_balance: Sequence[float] | None = None,
    effect_sizes: Mapping[str, float] | None = None,
    signal_noise: Mapping[str, float] | None = None,
    missing_fractions: Mapping[str, float] | None = None,
    class_separation: float = 4.0,
    informative_fraction: float = 0.2,
    n_modules: int = 10,
    n_batches: int = 4,
    seed: int = 0,
) -> MuData:
    """Simulate a cohort with mRNA, methylation and miRNA (the model is in the module docstring).

    Args:
        n_train, n_test: samples per split.
        n_features: features per modality, one number for all or a mapping (``{"mrna": 200, ...}``).
        n_classes: ordered disease stages (2: control / AD).
        class_balance: class proportions (any positive numbers, normalised); ``None``: equal.
        effect_sizes: typical disease loading of an informative feature per modality, in units of the
            feature's residual SD (default mRNA 0.6, meth 0.5, miRNA 0.45).
        signal_noise: SD of each layer's sample-level deviation from the pathology severity, in units of the
            within-class severity SD (default mRNA 1.8, meth 2.4, miRNA 2.8; larger is less informative).
        missing_fractions: fraction of each split's samples lacking a modality (default 0 for all).
        class_separation: distance between successive class means of the severity, in within-class SDs.
        informative_fraction: fraction of each modality's features that carry the disease signal.
        n_modules: co-expression modules per modality (correlated nuisance).
        n_batches: processing batches per modality.
        seed: the seed of every random draw.

    Returns:
        A ``mudata.MuData`` in the form of :mod:`~sciconv_omics_sguq.mogonet_io` (samples ``tr0000``..,
        ``te0000``..; modalities ``mrna``, ``meth``, ``mirna`` with float32 values in [0, 1]; ``obs`` with
        ``label``, ``split``), plus the simulated truth: ``obs['severity']`` (standardised pathology),
        ``obs['age']`` (years), ``obs['sex']`` (``"F"``/``"M"``), each modality's ``obs['batch']`` and
        ``var['informative']`` (bool: non-zero disease loading), and methylation's ``var['target_gene']``
        (the mRNA feature whose promoter a CpG sits in, ``""`` for the others).

    Raises:
        ConfigError: an invalid parameter.
    """
    import anndata as ad

    n_by_split = {"train": _int_at_least("n_train", n_train, 1), "test": _int_at_least("n_test", n_test, 1)}
    n_classes = _int_at_least("n_classes", n_classes, 2)
    if isinstance(n_features, Mapping):
        for m, v in n_features.items():
            _int_at_least(f"n_features[{m!r}]", v, 1)
        sizes = _per_modality("n_features", n_features, dict.fromkeys(MODALITIES, 200), 1, math.inf)
    else:
        sizes = dict.fromkeys(MODALITIES, _int_at_least("n_features", n_features, 1))
    n_feat = {m: int(v) for m, v in sizes.items()}
    proportions = _class_proportions(class_balance, n_classes)
    effects = _per_modality("effect_sizes", effect_sizes, DEFAULT_EFFECT_SIZES, 0.0, 100.0)
    noise = _per_modality("signal_noise", signal_noise, DEFAULT_SIGNAL_NOISE, 0.0, 100.0)
    missing = _per_modality("missing_fractions", missing_fractions, DEFAULT_MISSING_FRACTIONS, 0.0, 1.0)
    if isinstance(class_separation, bool) or not isinstance(class_separation, int | float) or class_separation < 0:
        raise ConfigError(f"class_separation must be a number >= 0, got {class_separation!r}")
    if not isinstance(informative_fraction, int | float) or not 0.0 < informative_fraction <= 1.0:
        raise ConfigError(f"informative_fraction must be in (0, 1], got {informative_fraction!r}")
    n_modules = _int_at_least("n_modules", n_modules, 1)
    n_batches = _int_at_least("n_batches", n_batches, 1)
    seed = _int_at_least("seed", seed, 0)

    streams = np.random.SeedSequence(seed).spawn(3 + len(MODALITIES))
    rng_labels, rng_cov, rng_missing = (np.random.default_rng(s) for s in streams[:3])
    rng_mod = {m: np.random.default_rng(s) for m, s in zip(MODALITIES, streams[3:], strict=True)}

    # labels: exact class counts per split, shuffled
    y = np.concatenate(
        [rng_labels.permutation(np.repeat(np.arange(n_classes), _counts(proportions, n))) for n in n_by_split.values()]
    )
    n = len(y)
    ids = _sample_ids("train", n_by_split["train"]) + _sample_ids("test", n_by_split["test"])

    # pathology severity and covariates
    severity = class_separation * (y - (n_classes - 1) / 2) + rng_cov.normal(0.0, 1.0, n)
    age = _AGE_MEAN + _AGE_SEVERITY * severity + rng_cov.normal(0.0, _AGE_SD, n)
    female = rng_cov.random(n) < _P_FEMALE
    age_std = (age - _AGE_MEAN) / _AGE_SD
    sex_centred = female - _P_FEMALE

    # each layer's design: disease signal, loadings, batches, modules
    design = {
        m: _design(
            m, n_feat[m], n, severity, effects[m], noise[m], informative_fraction, n_modules, n_batches, rng_mod[m]
        )
        for m in MODALITIES
    }
    # promoter CpGs of informative genes: methylation moves opposite to expression in disease
    genes = np.flatnonzero(design["mrna"]["a"])
    cpgs = np.flatnonzero(design["meth"]["a"])
    n_pairs = min(len(genes), round(_PROMOTER_SHARE * len(cpgs)))
    pair_gene, pair_cpg = genes[:n_pairs], cpgs[:n_pairs]
    a_meth = design["meth"]["a"]
    a_meth[pair_cpg] = -np.sign(design["mrna"]["a"][pair_gene]) * np.abs(a_meth[pair_cpg])

    z = {}
    for m in MODALITIES:
        f = design[m]
        z[m] = (
            np.outer(f["d"], f["a"])
            + np.outer(age_std, f["g"])
            + np.outer(sex_centred, f["h"])
            + f["batch_shift"][f["batch"]]
            + f["u"][:, f["module"]] * f["w"]
            + f["e"]
        )
    # an individual's promoter methylation represses its gene beyond the disease effect
    z["mrna"][:, pair_gene] -= _REPRESSION * design["meth"]["e"][:, pair_cpg]

    present = _missing_pattern(n_by_split, missing, rng_missing)
    mods = {}
    names = {
        "mrna": [f"gene{j:04d}" for j in range(n_feat["mrna"])],
        "meth": [f"cg{j:08d}" for j in range(n_feat["meth"])],
        "mirna": [f"hsa-mir-s{j:03d}" for j in range(n_feat["mirna"])],
    }
    for m in MODALITIES:
        x = _measured(m, z[m], rng_mod[m])
        x[~present[m]] = np.nan
        x = _min_max(x)
        keep = present[m]
        mods[m] = ad.AnnData(
            X=x[keep].astype(np.float32),
            obs=pd.DataFrame({"batch": design[m]["batch"][keep]}, index=pd.Index(np.asarray(ids)[keep], dtype=object)),
            var=pd.DataFrame({"informative": design[m]["a"] != 0}, index=pd.Index(names[m], dtype=object)),
        )
    target_gene = np.full(n_feat["meth"], "", dtype=object)
    target_gene[pair_cpg] = np.asarray(names["mrna"], dtype=object)[pair_gene]
    mods["meth"].var["target_gene"] = target_gene
    obs = pd.DataFrame(
        {
            "label": y.astype(np.int64),
            "split": pd.Categorical(
                ["train"] * n_by_split["train"] + ["test"] * n_by_split["test"], categories=list(SPLITS)
            ),
            "severity": severity,
            "age": age,
            "sex": np.where(female, "F", "M"),
        },
        index=pd.Index(ids, dtype=object),
    )
    return _assemble(mods, obs)


def write_simulated_cohort(root: str | Path, overwrite: bool = False, **params: Any) -> Path:
    """Simulate a cohort (``params`` as for :func:`simulate_cohort`) and write it in MOGONET's layout at
    ``root`` (omics 1 mRNA, 2 methylation, 3 miRNA; missing modalities as blank rows), atomically, with
    :func:`~sciconv_omics_sguq.mogonet_io.write_mogonet`. The simulated truth (severity, covariates) is not
    part of the layout. Returns ``root``."""
    return write_mogonet(simulate_cohort(**params), root, overwrite=overwrite)
