"""The multi-omics cohort simulator: shapes, determinism, scale, balance, missing patterns, biology, MOGONET layout."""

from __future__ import annotations

import warnings
from pathlib import Path

import mudata as md
import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_omics_sguq.cohort_simulator import MODALITIES, simulate_cohort, write_simulated_cohort
from sciconv_omics_sguq.mogonet_io import labels, modality_mask, read_mogonet, split_mask, to_arrays


@pytest.fixture(scope="module")
def cohort() -> md.MuData:
    return simulate_cohort(seed=0)


def test_defaults_have_the_rosmap_shape(cohort: md.MuData) -> None:
    assert list(cohort.mod) == ["mrna", "meth", "mirna"]
    assert cohort.n_obs == 351
    assert cohort.obs_names[0] == "tr0000" and cohort.obs_names[244] == "tr0244" and cohort.obs_names[245] == "te0000"
    assert cohort.obs["split"].value_counts().to_dict() == {"train": 245, "test": 106}
    for name in MODALITIES:
        adata = cohort.mod[name]
        assert adata.shape == (351, 200) and adata.X.dtype == np.float32
        assert adata.var["informative"].sum() == 40  # 20 % of 200
    assert cohort.mod["meth"].var_names[0] == "cg00000000"
    assert modality_mask(cohort).to_numpy().all()  # nothing missing by default, as in ROSMAP
    assert set(cohort.obs.columns) >= {"label", "split", "severity", "age", "sex"}


def test_values_lie_in_unit_range_scaled_per_matrix(cohort: md.MuData) -> None:
    for name in MODALITIES:
        x = cohort.mod[name].X
        assert np.isfinite(x).all()
        assert x.min() == 0.0 and x.max() == 1.0  # min-max over the whole matrix, as MOGONET's ROSMAP
        spread = np.median(x.std(axis=0))
        assert 0.01 < spread < 0.1  # each feature's own spread is narrow, as in ROSMAP (0.03-0.05)


def test_deterministic_given_the_seed() -> None:
    a = simulate_cohort(n_train=30, n_test=20, n_features=15, seed=7)
    b = simulate_cohort(n_train=30, n_test=20, n_features=15, seed=7)
    c = simulate_cohort(n_train=30, n_test=20, n_features=15, seed=8)
    for name in MODALITIES:
        np.testing.assert_array_equal(a.mod[name].X, b.mod[name].X)
        assert not np.array_equal(a.mod[name].X, c.mod[name].X)
    np.testing.assert_array_equal(labels(a), labels(b))


def test_class_balance_is_exact_per_split() -> None:
    default = simulate_cohort(n_train=245, n_test=106, n_features=10)
    y, train = labels(default), split_mask(default, "train")
    assert np.bincount(y[train]).tolist() == [122, 123] or np.bincount(y[train]).tolist() == [123, 122]
    assert np.bincount(y[~train]).tolist() == [53, 53]
    three = simulate_cohort(n_train=100, n_test=50, n_features=10, n_classes=3, class_balance=[2, 3, 5], seed=1)
    y, train = labels(three), split_mask(three, "train")
    assert np.bincount(y[train]).tolist() == [20, 30, 50]
    assert np.bincount(y[~train]).tolist() == [10, 15, 25]
    assert not np.array_equal(y[train], np.sort(y[train]))  # shuffled, not in class blocks


def test_severity_separates_classes_with_overlap() -> None:
    cohort = simulate_cohort(n_train=2000, n_test=1000, n_features=5, seed=2)
    y, s = labels(cohort), cohort.obs["severity"].to_numpy()
    assert s[y == 1].mean() - s[y == 0].mean() == pytest.approx(4.0, abs=0.15)
    assert s[y == 0].std() == pytest.approx(1.0, abs=0.05)
    assert (s[y == 0] > s[y == 1].min()).any()  # the classes overlap
    age = cohort.obs["age"].to_numpy()
    assert 80 < age.mean() < 92 and age[y == 1].mean() > age[y == 0].mean()
    assert 0.55 < (cohort.obs["sex"] == "F").mean() < 0.7


def test_informative_features_and_inverse_promoter_methylation() -> None:
    cohort = simulate_cohort(n_train=1500, n_test=500, seed=3)
    s = cohort.obs["severity"].to_numpy()
    for name in MODALITIES:
        x = to_arrays(cohort, name)
        r = np.abs([np.corrcoef(x[:, j], s)[0, 1] for j in range(x.shape[1])])
        informative = cohort.mod[name].var["informative"].to_numpy()
        assert np.median(r[informative]) > 0.2 > 0.1 > np.median(r[~informative])
    meth, mrna = cohort.mod["meth"], to_arrays(cohort, "mrna")
    pairs = meth.var.loc[meth.var["target_gene"] != "", "target_gene"]
    assert len(pairs) == 13  # a third of the 40 informative CpGs
    genes = cohort.mod["mrna"].var_names
    x_meth = to_arrays(cohort, "meth")
    r_pairs = [
        np.corrcoef(x_meth[:, meth.var_names.get_loc(cpg)], mrna[:, genes.get_loc(gene)])[0, 1]
        for cpg, gene in pairs.items()
    ]
    assert max(r_pairs) < -0.1  # every promoter CpG is inversely correlated with its gene
    # disease directions are opposite too
    y = labels(cohort)
    for cpg, gene in pairs.items():
        d_cpg = np.diff([x_meth[y == c, meth.var_names.get_loc(cpg)].mean() for c in (0, 1)])[0]
        d_gene = np.diff([mrna[y == c, genes.get_loc(gene)].mean() for c in (0, 1)])[0]
        assert np.sign(d_cpg) == -np.sign(d_gene)


def test_missing_fractions_are_exact_and_leave_values_alone() -> None:
    kwargs = {"n_train": 200, "n_test": 100, "n_features": 8, "seed": 4}
    full = simulate_cohort(**kwargs)
    gappy = simulate_cohort(missing_fractions={"meth": 0.25, "mirna": 0.4}, **kwargs)
    mask = modality_mask(gappy)
    train = split_mask(gappy, "train")
    assert mask["mrna"].all()  # mRNA is always measured by default
    assert (~mask["meth"][train]).sum() == 50 and (~mask["meth"][~train]).sum() == 25
    assert (~mask["mirna"][train]).sum() == 80 and (~mask["mirna"][~train]).sum() == 40
    both = ~mask["meth"] & ~mask["mirna"]
    assert 0 < both.sum() < 50  # independent choices: some samples lack both
    for name in MODALITIES:
        x_full, x_gappy = to_arrays(full, name), to_arrays(gappy, name)
        present = mask[name].to_numpy()
        assert np.isnan(x_gappy[~present]).all()
        # the scaling is over present samples, so compare up to the affine min-max map
        a, b = np.polyfit(x_full[present].ravel(), x_gappy[present].ravel(), 1)
        np.testing.assert_allclose(a * x_full[present] + b, x_gappy[present], atol=1e-5)
        assert np.nanmin(x_gappy) == 0.0 and np.nanmax(x_gappy) == 1.0
    np.testing.assert_array_equal(labels(full), labels(gappy))


def test_missing_modalities_never_leave_a_sample_empty() -> None:
    cohort = simulate_cohort(
        n_train=30, n_test=12, n_features=4, missing_fractions={"mrna": 0.5, "meth": 0.5, "mirna": 0.5}, seed=5
    )
    mask = modality_mask(cohort)
    assert mask.any(axis=1).all()
    assert (~mask).sum().tolist() == [21, 21, 21]
    with pytest.raises(ConfigError, match="without any modality"):
        simulate_cohort(n_train=30, n_test=12, n_features=4, missing_fractions={"mrna": 1, "meth": 1, "mirna": 0.5})


def test_round_trip_through_the_mogonet_layout(tmp_path: Path) -> None:
    kwargs = {"n_train": 40, "n_test": 20, "n_features": {"mrna": 12, "meth": 9, "mirna": 6}, "seed": 6}
    missing = {"meth": 0.2, "mirna": 0.3}
    root = write_simulated_cohort(tmp_path / "sim", missing_fractions=missing, **kwargs)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [f"{i}_{k}.csv" for i in (1, 2, 3) for k in ("tr", "te", "featname")] + ["labels_tr.csv", "labels_te.csv"]
    )
    back = read_mogonet(root)
    cohort = simulate_cohort(missing_fractions=missing, **kwargs)
    assert back.obs_names.tolist() == cohort.obs_names.tolist()
    np.testing.assert_array_equal(labels(back), labels(cohort))
    assert back.obs["split"].tolist() == cohort.obs["split"].tolist()
    assert modality_mask(back).equals(modality_mask(cohort))
    for name in MODALITIES:
        assert back.mod[name].var_names.tolist() == cohort.mod[name].var_names.tolist()
        np.testing.assert_array_equal(to_arrays(back, name), to_arrays(cohort, name))
    with pytest.raises(DataError, match="exists and is not empty"):
        write_simulated_cohort(root, **kwargs)
    write_simulated_cohort(root, overwrite=True, **kwargs)
    assert modality_mask(read_mogonet(root)).to_numpy().all()


def _accuracies(seed: int) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cohort = simulate_cohort(seed=seed)
    y, train = labels(cohort), split_mask(cohort, "train")
    x = {name: to_arrays(cohort, name) for name in MODALITIES}
    x["all"] = np.hstack([x[name] for name in MODALITIES])
    scores = {}
    for name, features in x.items():
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's convergence and deprecation notices
            model.fit(features[train], y[train])
        scores[name] = model.score(features[~train], y[~train])
    return scores


def test_information_ordering_with_a_linear_model() -> None:
    runs = [_accuracies(seed) for seed in range(3)]
    mean = {name: float(np.mean([r[name] for r in runs])) for name in runs[0]}
    assert 0.68 < mean["mrna"] < 0.88  # about 0.78 over many seeds
    assert mean["all"] > mean["mrna"] + 0.04  # combined clearly better (about 0.86)
    assert mean["all"] < 0.97
    assert mean["mrna"] > mean["mirna"]  # mRNA the strongest layer, miRNA the weakest
    assert mean["meth"] > mean["mirna"] - 0.02
    assert min(r["mrna"] for r in runs) > 0.6 and min(r["all"] for r in runs) > 0.75


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 0}, "n_train must be an integer >= 1"),
        ({"n_test": 2.5}, "n_test must be an integer >= 1"),
        ({"n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"n_features": {"mrna": 0}}, r"n_features\['mrna'\] must be an integer >= 1"),
        ({"class_balance": [1.0]}, "class_balance must hold 2 positive proportions"),
        ({"class_balance": [1.0, -1.0]}, "class_balance must hold 2 positive proportions"),
        ({"effect_sizes": {"mRNA": 1.0}}, "unknown modality 'mRNA'; did you mean 'mrna'"),
        ({"missing_fractions": {"meth": 1.5}}, r"missing_fractions\['meth'\] must be a number in \[0, 1\]"),
        ({"signal_noise": "high"}, "signal_noise must map modalities"),
        ({"class_separation": -1}, "class_separation must be a number >= 0"),
        ({"informative_fraction": 0}, r"informative_fraction must be in \(0, 1\]"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_cohort(**kwargs)


def test_a_single_number_applies_to_every_modality() -> None:
    cohort = simulate_cohort(n_train=20, n_test=10, n_features=6, missing_fractions=0.1, seed=9)
    assert (~modality_mask(cohort)).sum().tolist() == [3, 3, 3]
