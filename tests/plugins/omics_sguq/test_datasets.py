"""The multi-omics dataset components (MOGONET folders, .h5mu / .h5ad, the simulated cohort and its cache),
through the pipeline machinery and the conformance kit. (The model component: models/test_omics_mogonet.py.)"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import sciconv
from sciconv.errors import ConfigError, DataError
from sciconv.registry import get_registry
from sciconv.testing import check_dataset
from sciconv_omics_sguq.cohort_simulator import simulate_cohort, write_simulated_cohort
from sciconv_omics_sguq.mogonet_io import write_h5mu

ROSMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rosmap"
SMALL = {"n_train": 40, "n_test": 20, "n_features": 12, "seed": 3}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_simulated_cohort(tmp_path_factory.mktemp("omics") / "cohort", **SMALL)


def test_mogonet_folder_through_the_component(folder: Path) -> None:
    bundle = check_dataset("omics-sguq.mogonet-layout", {"root": str(folder), "class_names": ["NC", "AD"]})
    spec = bundle.spec
    assert spec.input_shape == (36,) and spec.n_outputs == 2 and spec.classes == ("NC", "AD")
    assert spec.extra["modalities"] == ["mrna", "meth", "mirna"] and spec.extra["n_features"] == [12, 12, 12]
    assert spec.extra["dataset"] == "cohort" and (spec.extra["n_train"], spec.extra["n_test"]) == (40, 20)
    assert len(bundle.train) == 40 and len(bundle.test) == 20 and bundle.val is None
    mdata = bundle.info["mudata"]
    assert list(mdata.mod) == ["mrna", "meth", "mirna"] and mdata.n_obs == 60
    # x is the modalities concatenated in order, as the MuData holds them
    x0, y0 = bundle.train[0]
    np.testing.assert_allclose(x0[:12].numpy(), mdata.mod["mrna"].X[0])
    assert int(y0) == int(mdata.obs["label"].iloc[0])


def test_h5mu_and_h5ad_paths(tmp_path: Path) -> None:
    mdata = simulate_cohort(**SMALL)
    path = write_h5mu(mdata, tmp_path / "cohort.h5mu")
    bundle = check_dataset("omics-sguq.mogonet-layout", {"root": str(path), "modalities": ["mrna", "mirna"]})
    assert bundle.spec.extra["modalities"] == ["mrna", "mirna"] and bundle.spec.extra["dataset"] == "cohort"

    import anndata as ad
    import pandas as pd

    x = np.concatenate([mdata.mod[m].X for m in ("mrna", "meth")], axis=1)
    adata = ad.AnnData(
        X=x,
        obs=mdata.obs[["label", "split"]].copy(),
        var=pd.DataFrame({"modality": ["mrna"] * 12 + ["meth"] * 12}, index=[f"f{i}" for i in range(24)]),
    )
    adata.write_h5ad(tmp_path / "flat.h5ad")
    bundle = check_dataset("omics-sguq.mogonet-layout", {"root": str(tmp_path / "flat.h5ad")})
    assert bundle.spec.extra["modalities"] == ["mrna", "meth"] and bundle.spec.input_shape == (24,)


def test_simulated_cohort_is_written_in_the_layout_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path / "default"))
    params = {**SMALL, "cache_dir": str(tmp_path / "cache")}
    first = check_dataset("omics-sguq.simulated-cohort", params)
    written = list((tmp_path / "cache").iterdir())
    assert len(written) == 1 and written[0].name.startswith("cohort-")
    assert sorted(p.name for p in written[0].iterdir()) == sorted(
        [f"{i}_{s}.csv" for i in (1, 2, 3) for s in ("tr", "te", "featname")]
        + ["labels_tr.csv", "labels_te.csv", "simulation.json"]  # the cache's completion marker
    )
    capsys.readouterr()
    second = check_dataset("omics-sguq.simulated-cohort", params)  # read back from the cache
    assert f"reusing the cached simulation {written[0]}" in capsys.readouterr().err
    assert torch.equal(first.train.tensors[0], second.train.tensors[0])
    assert first.spec.classes == ("NC", "AD") and first.info["source"] == str(written[0])
    # the same cohort without cache_dir: in the default cache ($SCICONV_CACHE_DIR/simulations), same folder name,
    # identical values
    plain = check_dataset("omics-sguq.simulated-cohort", SMALL)
    assert plain.info["source"] == str(tmp_path / "default" / "simulations" / written[0].name)
    assert torch.equal(plain.train.tensors[0], first.train.tensors[0])
    other = check_dataset("omics-sguq.simulated-cohort", {**params, "seed": 4})
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert not torch.equal(other.train.tensors[0], first.train.tensors[0])


def test_the_old_dataset_names_still_resolve() -> None:
    registry = get_registry()
    for old, new in (
        ("omics.mogonet", "omics-sguq.mogonet-layout"),
        ("omics.simulated-cohort", "omics-sguq.simulated-cohort"),
    ):
        with pytest.warns(FutureWarning, match=new):
            assert registry.load("datasets", old) is registry.load("datasets", new)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pipeline = sciconv.load_pipeline(
            "omics-sguq", {"dataset.name": "omics.simulated-cohort", "task.name": "sguq.staged"}
        )
    assert pipeline.config.dataset.params["n_train"] == 245


def test_missing_modalities_are_zero_filled_and_marked() -> None:
    bundle = check_dataset("omics-sguq.simulated-cohort", {**SMALL, "missing_fractions": {"meth": 0.25, "mirna": 0.5}})
    available = bundle.info["available"]
    assert available.shape == (60, 3) and available[:, 0].all()
    assert bundle.info["missing"] == {"mrna": 0, "meth": 15, "mirna": 30}
    x = torch.cat([bundle.train.tensors[0], bundle.test.tensors[0]]).numpy()
    lacking_meth = ~available[:, 1]
    assert (x[lacking_meth, 12:24] == 0).all() and (x[~lacking_meth, 12:24] != 0).any()


def test_real_rosmap_sample() -> None:
    if not ROSMAP.is_dir():
        pytest.skip(f"the real ROSMAP sample is not at {ROSMAP}")
    bundle = check_dataset("omics-sguq.mogonet-layout", {"root": str(ROSMAP), "class_names": ["NC", "AD"]})
    assert len(bundle.train) == 245 and len(bundle.test) == 106 and bundle.spec.input_shape == (600,)
    assert bundle.info["missing"] == {"mrna": 0, "meth": 0, "mirna": 0}


@pytest.mark.parametrize(
    ("dataset", "params", "error", "message"),
    [
        (
            "omics-sguq.mogonet-layout",
            {},
            ConfigError,
            r"dataset\.params\.root: omics-sguq\.mogonet-layout reads a MOGONET folder \(or an \.h5mu / \.h5ad "
            r"file\); give it with dataset\.params\.root=PATH",
        ),
        (
            "omics-sguq.mogonet-layout",
            {"root": "/nonexistent/rosmap"},
            DataError,
            r"dataset\.params\.root: /nonexistent/rosmap does not exist \(expected a MOGONET folder",
        ),
        ("omics-sguq.mogonet-layout", {"root": __file__}, ConfigError, "neither a MOGONET folder nor an .h5mu"),
        ("omics-sguq.mogonet-layout", {"class_names": ["AD"]}, ConfigError, "class_names"),
        ("omics-sguq.simulated-cohort", {"class_names": ["a", "b", "c"]}, ConfigError, "3 names for 2 classes"),
        ("omics-sguq.simulated-cohort", {"missing_fractions": {"meth": 1.0}}, ConfigError, r"missing_fractions\.meth"),
        ("omics-sguq.simulated-cohort", {"effect_sizes": {"rna": 1.0}}, ConfigError, "unknown modality 'rna'"),
    ],
)
def test_bad_dataset_parameters(folder: Path, dataset: str, params: dict, error: type, message: str) -> None:
    if dataset == "omics-sguq.mogonet-layout" and "root" not in params and "class_names" in params:
        params = {**params, "root": str(folder)}
    factory = get_registry().load("datasets", dataset)
    with pytest.raises(error, match=message):
        component = factory(**params)
        component.validate()
        component.load()


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    root = write_simulated_cohort(tmp_path / "cohort", **SMALL)
    lines = (root / "labels_te.csv").read_text().splitlines()
    lines[3] = "2.5"
    (root / "labels_te.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"labels_te\.csv: line 4: label 2\.5 is not an integer"):
        check_dataset("omics-sguq.mogonet-layout", {"root": str(root)})
    with pytest.raises(ConfigError, match=r"class_names: 3 names"):
        check_dataset(
            "omics-sguq.mogonet-layout",
            {"root": str(write_simulated_cohort(tmp_path / "ok", **SMALL)), "class_names": ["a", "b", "c"]},
        )


def test_a_rosmap_label_2_is_a_data_error_naming_file_line_and_expected_labels(tmp_path: Path, capsys) -> None:
    """ROSMAP's class_names are NC, AD: a label 2 on line 4 of labels_te.csv is a DataError (exit 1, like the other
    label errors) naming the file, the line, the value and the labels expected, through the component and the
    command line."""
    from sciconv.cli import main

    root = write_simulated_cohort(tmp_path / "rosmap", **SMALL)
    lines = (root / "labels_te.csv").read_text().splitlines()
    lines[3] = "2.0"
    (root / "labels_te.csv").write_text("\n".join(lines) + "\n")
    expected = rf"{root / 'labels_te.csv'}: line 4: label 2 is not one of the 2 classes .*expected 0 \(NC\) or 1 \(AD\)"
    with pytest.raises(DataError, match=expected):
        check_dataset("omics-sguq.mogonet-layout", {"root": str(root), "class_names": ["NC", "AD"]})
    code = main(["run", "omics-sguq-rosmap", f"dataset.params.root={root}", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.search(expected, err), err
    # the other label errors exit the same way
    lines[3] = "2.5"
    (root / "labels_te.csv").write_text("\n".join(lines) + "\n")
    code = main(["run", "omics-sguq-rosmap", f"dataset.params.root={root}", "--run-dir", str(tmp_path / "run2")])
    assert code == 1 and "labels_te.csv: line 4: label 2.5 is not an integer" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("n_classes", 1, r"dataset\.params\.n_classes: expected an integer >= 2"),
        ("n_train", 0, r"dataset\.params\.n_train: expected an integer >= 1"),
        ("n_test", -3, r"dataset\.params\.n_test: expected an integer >= 1"),
        ("n_features", 0, r"dataset\.params\.n_features: expected an integer >= 1"),
    ],
)
def test_bad_simulator_sizes_are_refused_by_the_pipeline(key: str, value: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("omics-sguq", {f"dataset.params.{key}": value})
