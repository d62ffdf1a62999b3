"""The multi-omics dataset components (MOGONET folders, .h5mu / .h5ad, the simulated cohort) and the MOGONET
model component, through the pipeline machinery and the conformance kit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciconv import DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.registry import get_registry
from sciconv.testing import check_dataset, check_model
from sciconv_omics_sguq.cohort_simulator import simulate_cohort, write_simulated_cohort
from sciconv_omics_sguq.mogonet_io import write_h5mu
from sciconv_omics_sguq.sguq_task import MOGONETNet

ROSMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rosmap"
SMALL = {"n_train": 40, "n_test": 20, "n_features": 12, "seed": 3}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_simulated_cohort(tmp_path_factory.mktemp("omics") / "cohort", **SMALL)


def test_mogonet_folder_through_the_component(folder: Path) -> None:
    bundle = check_dataset("omics.mogonet", {"root": str(folder), "class_names": ["NC", "AD"]})
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
    bundle = check_dataset("omics.mogonet", {"root": str(path), "modalities": ["mrna", "mirna"]})
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
    bundle = check_dataset("omics.mogonet", {"root": str(tmp_path / "flat.h5ad")})
    assert bundle.spec.extra["modalities"] == ["mrna", "meth"] and bundle.spec.input_shape == (24,)


def test_simulated_cohort_is_written_in_the_layout_and_cached(tmp_path: Path) -> None:
    params = {**SMALL, "cache_dir": str(tmp_path / "cache")}
    first = check_dataset("omics.simulated-cohort", params)
    written = list((tmp_path / "cache").iterdir())
    assert len(written) == 1 and written[0].name.startswith("cohort-")
    assert sorted(p.name for p in written[0].iterdir()) == sorted(
        [f"{i}_{s}.csv" for i in (1, 2, 3) for s in ("tr", "te", "featname")] + ["labels_tr.csv", "labels_te.csv"]
    )
    second = check_dataset("omics.simulated-cohort", params)  # read back from the cache
    assert torch.equal(first.train.tensors[0], second.train.tensors[0])
    assert first.spec.classes == ("NC", "AD") and first.info["source"] == str(written[0])
    # the same cohort without a cache: written to a temporary folder, identical values
    plain = check_dataset("omics.simulated-cohort", SMALL)
    assert torch.equal(plain.train.tensors[0], first.train.tensors[0])
    other = check_dataset("omics.simulated-cohort", {**params, "seed": 4})
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert not torch.equal(other.train.tensors[0], first.train.tensors[0])


def test_missing_modalities_are_zero_filled_and_marked() -> None:
    bundle = check_dataset("omics.simulated-cohort", {**SMALL, "missing_fractions": {"meth": 0.25, "mirna": 0.5}})
    available = bundle.info["available"]
    assert available.shape == (60, 3) and available[:, 0].all()
    assert bundle.info["missing"] == {"mrna": 0, "meth": 15, "mirna": 30}
    x = torch.cat([bundle.train.tensors[0], bundle.test.tensors[0]]).numpy()
    lacking_meth = ~available[:, 1]
    assert (x[lacking_meth, 12:24] == 0).all() and (x[~lacking_meth, 12:24] != 0).any()


def test_real_rosmap_sample() -> None:
    if not ROSMAP.is_dir():
        pytest.skip(f"the real ROSMAP sample is not at {ROSMAP}")
    bundle = check_dataset("omics.mogonet", {"root": str(ROSMAP), "class_names": ["NC", "AD"]})
    assert len(bundle.train) == 245 and len(bundle.test) == 106 and bundle.spec.input_shape == (600,)
    assert bundle.info["missing"] == {"mrna": 0, "meth": 0, "mirna": 0}


@pytest.mark.parametrize(
    ("dataset", "params", "error", "message"),
    [
        ("omics.mogonet", {}, ConfigError, r"dataset\.params\.root: omics\.mogonet reads a MOGONET folder"),
        ("omics.mogonet", {"root": "/nonexistent/rosmap"}, ConfigError, "does not exist"),
        ("omics.mogonet", {"root": __file__}, ConfigError, "neither a MOGONET folder nor an .h5mu"),
        ("omics.mogonet", {"class_names": ["AD"]}, ConfigError, "class_names"),
        ("omics.simulated-cohort", {"n_classes": 1}, ConfigError, r"n_classes: expected an integer >= 2"),
        ("omics.simulated-cohort", {"class_names": ["a", "b", "c"]}, ConfigError, "3 names for 2 classes"),
        ("omics.simulated-cohort", {"missing_fractions": {"meth": 1.0}}, ConfigError, r"missing_fractions\.meth"),
        ("omics.simulated-cohort", {"effect_sizes": {"rna": 1.0}}, ConfigError, "unknown modality 'rna'"),
    ],
)
def test_bad_dataset_parameters(folder: Path, dataset: str, params: dict, error: type, message: str) -> None:
    if dataset == "omics.mogonet" and "root" not in params and "class_names" in params:
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
        check_dataset("omics.mogonet", {"root": str(root)})
    with pytest.raises(ConfigError, match=r"class_names: 3 names"):
        check_dataset(
            "omics.mogonet",
            {"root": str(write_simulated_cohort(tmp_path / "ok", **SMALL)), "class_names": ["a", "b", "c"]},
        )


# --- the model component ------------------------------------------------------------------------


def _spec(n_features: list[int], n_classes: int = 2) -> DataSpec:
    return DataSpec(
        input_shape=(sum(n_features),),
        n_outputs=n_classes,
        classes=tuple(str(c) for c in range(n_classes)),
        extra={"modalities": ["mrna", "meth", "mirna"][: len(n_features)], "n_features": n_features},
    )


def test_model_component_conforms_and_has_mogonets_size() -> None:
    model = check_model("sguq.mogonet", _spec([12, 7, 5], 3), {"hidden": [16, 16, 8]})
    assert isinstance(model, MOGONETNet) and model.mogonet.vcdn is not None
    single = check_model("sguq.mogonet", _spec([12]), {"hidden": [16, 16, 8]}, batch_size=1)
    assert single.mogonet.vcdn is None
    # MOGONET at ROSMAP's size (three 200-feature omics, hidden 200-200-100, two classes): 302,196 weights
    rosmap = MOGONETNet(_spec([200, 200, 200]))
    assert sum(p.numel() for p in rosmap.parameters()) == 302_196
    assert rosmap.training_params() == {
        "hidden": (200, 200, 100),
        "dropout": 0.5,
        "vcdn_hidden": None,
        "vcdn_input": "sigmoid",
        "k": 2,
        "train_edges": False,
    }
    out = rosmap.eval()(torch.rand(30, 600))
    assert out.shape == (30, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden": []}, r"model\.params\.hidden"),
        ({"dropout": 1.0}, r"model\.params\.dropout"),
        ({"vcdn_input": "tanh"}, r"model\.params\.vcdn_input"),
        ({"k": 0}, r"model\.params\.k"),
    ],
)
def test_bad_model_parameters(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MOGONETNet(_spec([12, 7]), **params)
    with pytest.raises(DataError, match="does not match the views' feature counts"):
        MOGONETNet(DataSpec(input_shape=(10,), n_outputs=2, classes=("a", "b"), extra={"n_features": [4, 4]}))
