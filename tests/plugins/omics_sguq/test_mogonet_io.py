"""MOGONET CSV, .h5mu and .h5ad readers and writers: the MuData form, missing modalities, bad input, real ROSMAP."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_omics_sguq import mogonet_io
from sciconv_omics_sguq.mogonet_io import (
    labels,
    modality_mask,
    read_mogonet,
    read_omics,
    split_mask,
    to_arrays,
    write_h5mu,
    write_mogonet,
)

ROSMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rosmap"
N_TR, N_TE = 6, 4
N_FEATURES = (5, 4, 3)
Y_TR = [0, 1, 1, 0, 1, 0]
Y_TE = [1, 0, 0, 1]


def _csv(rows: Sequence[Sequence[float] | str]) -> str:
    """Rows of numbers as ``%.9g`` comma-separated lines; a string row is written as it is."""
    lines = [row if isinstance(row, str) else ",".join(f"{v:.9g}" for v in row) for row in rows]
    return "".join(line + "\n" for line in lines)


def _matrices(seed: int = 0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {
        i: (rng.random((N_TR, p)).astype(np.float32), rng.random((N_TE, p)).astype(np.float32))
        for i, p in enumerate(N_FEATURES, start=1)
    }


def _write_folder(
    root: Path,
    matrices: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    featnames: bool = True,
    y_tr: Sequence[float] = Y_TR,
    y_te: Sequence[float] = Y_TE,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """A small MOGONET folder written by hand (not by write_mogonet), labels as floats like MOGONET's."""
    matrices = _matrices() if matrices is None else matrices
    root.mkdir(parents=True, exist_ok=True)
    for i, (tr, te) in matrices.items():
        (root / f"{i}_tr.csv").write_text(_csv(tr))
        (root / f"{i}_te.csv").write_text(_csv(te))
        if featnames:
            (root / f"{i}_featname.csv").write_text("".join(f"omics{i}_feat{j}\n" for j in range(tr.shape[1])))
    (root / "labels_tr.csv").write_text("".join(f"{float(v):.18e}\n" for v in y_tr))
    (root / "labels_te.csv").write_text("".join(f"{float(v):.18e}\n" for v in y_te))
    return matrices


def _set_line(path: Path, line: int, text: str) -> None:
    """Replace 1-based ``line`` of a text file."""
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("".join(x + "\n" for x in lines))


def _assert_same(a: md.MuData, b: md.MuData) -> None:
    assert list(a.mod) == list(b.mod)
    assert a.obs_names.tolist() == b.obs_names.tolist()
    assert a.obs["label"].tolist() == b.obs["label"].tolist()
    assert a.obs["split"].astype(str).tolist() == b.obs["split"].astype(str).tolist()
    pd.testing.assert_frame_equal(modality_mask(a), modality_mask(b))
    for name in a.mod:
        assert a.mod[name].var_names.tolist() == b.mod[name].var_names.tolist()
        np.testing.assert_array_equal(to_arrays(a, name), to_arrays(b, name))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "mogonet"
    _write_folder(root)
    return root


# ----------------------------------------------------------------------------------------------------
# Reading the CSV layout


def test_read_builds_the_mudata_form(folder: Path) -> None:
    matrices = _matrices()
    mdata = read_mogonet(folder)
    assert isinstance(mdata, md.MuData)
    assert list(mdata.mod) == ["mrna", "meth", "mirna"]
    assert mdata.obs_names.tolist() == [f"tr{k:04d}" for k in range(N_TR)] + [f"te{k:04d}" for k in range(N_TE)]
    assert mdata.obs["label"].dtype == np.int64
    assert mdata.obs["label"].tolist() == Y_TR + Y_TE
    assert mdata.obs["split"].tolist() == ["train"] * N_TR + ["test"] * N_TE
    for name, i, p in zip(["mrna", "meth", "mirna"], [1, 2, 3], N_FEATURES, strict=True):
        adata = mdata.mod[name]
        assert adata.X.dtype == np.float32 and adata.shape == (N_TR + N_TE, p)
        assert adata.var_names.tolist() == [f"omics{i}_feat{j}" for j in range(p)]
        np.testing.assert_array_equal(adata.X, np.vstack(matrices[i]))
    np.testing.assert_array_equal(labels(mdata), Y_TR + Y_TE)
    assert split_mask(mdata, "train").tolist() == [True] * N_TR + [False] * N_TE
    assert modality_mask(mdata).to_numpy().all()


def test_featname_files_are_optional(tmp_path: Path) -> None:
    _write_folder(tmp_path, featnames=False)
    mdata = read_mogonet(tmp_path)
    assert mdata.mod["meth"].var_names.tolist() == ["meth_0", "meth_1", "meth_2", "meth_3"]


@pytest.mark.parametrize("n_omics", [1, 2])
def test_folders_with_fewer_omics(tmp_path: Path, n_omics: int) -> None:
    matrices = {i: m for i, m in _matrices().items() if i <= n_omics}
    _write_folder(tmp_path, matrices)
    mdata = read_mogonet(tmp_path)
    assert list(mdata.mod) == ["mrna", "meth"][:n_omics]


def test_modality_names_and_their_errors(folder: Path) -> None:
    assert list(read_mogonet(folder, modalities=["a", "b", "c", "unused"]).mod) == ["a", "b", "c"]
    with pytest.raises(ConfigError, match=r"holds 3 omics .* names only 2"):
        read_mogonet(folder, modalities=["a", "b"])
    with pytest.raises(ConfigError, match=r"twice"):
        read_mogonet(folder, modalities=["a", "a", "b"])
    with pytest.raises(ConfigError, match=r"without '/'"):
        read_mogonet(folder, modalities=["a/b", "c", "d"])


def test_more_than_four_digit_sample_ids(tmp_path: Path) -> None:
    n = 10_001
    (tmp_path / "1_tr.csv").write_text("0.5\n" * n)
    (tmp_path / "1_te.csv").write_text("0.5\n0.25\n")
    (tmp_path / "labels_tr.csv").write_text("0\n1\n" * (n // 2) + "0\n")
    (tmp_path / "labels_te.csv").write_text("0\n1\n")
    mdata = read_mogonet(tmp_path)
    assert mdata.obs_names[0] == "tr00000" and mdata.obs_names[n - 1] == "tr10000" and mdata.obs_names[n] == "te0000"


# ----------------------------------------------------------------------------------------------------
# Missing modalities


BLANK_ROWS = {
    "empty line": lambda p: "",
    "empty fields": lambda p: "," * (p - 1),
    "spaces": lambda p: " , " * (p - 1),
    "nan": lambda p: ",".join(["nan"] * (p - 1) + ["NaN"]),
    "mixed": lambda p: ",".join(["NA", "", "nan"][k % 3] for k in range(p)),
}


@pytest.mark.parametrize("blank", BLANK_ROWS)
def test_blank_rows_are_missing_modalities(folder: Path, blank: str) -> None:
    _set_line(folder / "2_tr.csv", 2, BLANK_ROWS[blank](4))  # meth of tr0001
    _set_line(folder / "3_te.csv", 4, BLANK_ROWS[blank](3))  # miRNA of te0003 (the last line)
    mdata = read_mogonet(folder)
    assert mdata.n_obs == N_TR + N_TE
    assert "tr0001" not in mdata.mod["meth"].obs_names and mdata.mod["meth"].n_obs == N_TR + N_TE - 1
    assert "te0003" not in mdata.mod["mirna"].obs_names
    mask = modality_mask(mdata)
    assert mask.columns.tolist() == ["mrna", "meth", "mirna"]
    assert (~mask).sum().tolist() == [0, 1, 1]
    assert not mask.loc["tr0001", "meth"] and not mask.loc["te0003", "mirna"]
    # MuData's own presence column agrees
    np.testing.assert_array_equal(np.asarray(mdata.obsm["meth"]).ravel(), mask["meth"].to_numpy())
    meth = to_arrays(mdata, "meth")
    assert meth.shape == (N_TR + N_TE, 4) and meth.dtype == np.float32
    assert np.isnan(meth[1]).all() and not np.isnan(np.delete(meth, 1, axis=0)).any()
    np.testing.assert_array_equal(meth[0], _matrices()[2][0][0])
    np.testing.assert_array_equal(meth[2], _matrices()[2][0][2])  # rows after the gap stay aligned
    np.testing.assert_array_equal(to_arrays(mdata, "mrna"), np.vstack(_matrices()[1]))


def test_first_row_blank(folder: Path) -> None:
    _set_line(folder / "1_tr.csv", 1, "")
    mdata = read_mogonet(folder)
    assert mdata.obs_names[0] == "tr0000" and not modality_mask(mdata).loc["tr0000", "mrna"]


def test_a_split_blank_throughout_takes_the_feature_count_of_the_other(folder: Path) -> None:
    (folder / "3_te.csv").write_text("\n" * N_TE)
    mdata = read_mogonet(folder)
    assert mdata.mod["mirna"].n_obs == N_TR and to_arrays(mdata, "mirna").shape == (N_TR + N_TE, 3)


def test_partially_missing_row_names_file_line_and_column(folder: Path) -> None:
    _set_line(folder / "2_te.csv", 3, "0.1,,0.3,0.4")
    with pytest.raises(DataError, match=r"2_te\.csv: line 3, column 2 is empty or NaN .*impute") as e:
        read_mogonet(folder)
    assert "1 of 4 missing" in str(e.value)
    _set_line(folder / "2_te.csv", 3, "0.1,0.2,0.3,nan")
    with pytest.raises(DataError, match=r"2_te\.csv: line 3, column 4"):
        read_mogonet(folder)


def test_sample_blank_in_every_omics(folder: Path) -> None:
    for i in (1, 2, 3):
        _set_line(folder / f"{i}_te.csv", 2, "")
    with pytest.raises(DataError, match=r"sample te0001 \(line 2 of the \*_te\.csv files\) is blank in every omics"):
        read_mogonet(folder)


# ----------------------------------------------------------------------------------------------------
# Errors


def test_missing_folder_file_instead_and_no_first_omics(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist"):
        read_mogonet(tmp_path / "nope")
    (tmp_path / "file.csv").write_text("1\n")
    with pytest.raises(DataError, match=r"not a folder"):
        read_mogonet(tmp_path / "file.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no 1_tr\.csv"):
        read_mogonet(empty)


def test_omics_must_be_numbered_consecutively(tmp_path: Path) -> None:
    matrices = _matrices()
    _write_folder(tmp_path, {1: matrices[1], 3: matrices[3]})
    with pytest.raises(DataError, match=r"consecutively from 1; found 1_tr\.csv, 3_tr\.csv"):
        read_mogonet(tmp_path)


@pytest.mark.parametrize("name", ["2_te.csv", "labels_tr.csv", "labels_te.csv"])
def test_missing_files(folder: Path, name: str) -> None:
    (folder / name).unlink()
    with pytest.raises(DataError, match=rf"{name}: is missing"):
        read_mogonet(folder)


def test_row_count_differs_from_labels(folder: Path) -> None:
    lines = (folder / "1_tr.csv").read_text().splitlines()
    (folder / "1_tr.csv").write_text("".join(x + "\n" for x in lines[:-1]))
    with pytest.raises(DataError, match=f"1_tr.csv has {N_TR - 1} rows but labels_tr.csv has {N_TR}"):
        read_mogonet(folder)


def test_trailing_blank_lines_are_rows_and_the_error_says_so(folder: Path) -> None:
    path = folder / "1_te.csv"
    path.write_text(path.read_text() + "\n")
    with pytest.raises(DataError, match=f"1_te.csv has {N_TE + 1} rows .*last 1 row.* are blank.*remove blank lines"):
        read_mogonet(folder)


def test_whitespace_and_separators(folder: Path) -> None:
    _set_line(folder / "3_tr.csv", 2, " 0.5 , 0.25,1e-3")  # spaces around numbers are fine
    np.testing.assert_allclose(read_mogonet(folder).mod["mirna"].X[1], [0.5, 0.25, 1e-3])
    _set_line(folder / "3_tr.csv", 2, "0.5, ,0.25")  # a blank field among values is a missing value
    with pytest.raises(DataError, match=r"3_tr\.csv: line 2, column 2 is empty or NaN"):
        read_mogonet(folder)
    _set_line(folder / "3_tr.csv", 2, "0.5;0.1;0.25,1,2")
    with pytest.raises(DataError, match=r"line 2, column 1: '0.5;0.1;0.25' is not a number \(values must be sep"):
        read_mogonet(folder)


def test_train_and_test_feature_counts_differ(tmp_path: Path) -> None:
    matrices = _matrices()
    matrices[2] = (matrices[2][0], matrices[2][1][:, :3])
    _write_folder(tmp_path, matrices)
    with pytest.raises(DataError, match=r"2_tr\.csv has 4 features \(columns\) but 2_te\.csv has 3"):
        read_mogonet(tmp_path)


def test_ragged_row(folder: Path) -> None:
    _set_line(folder / "1_tr.csv", 4, "0.1,0.2,0.3,0.4,0.5,0.6")
    with pytest.raises(DataError, match=r"1_tr\.csv: line 4 has 6 values but line 1 has 5"):
        read_mogonet(folder)


@pytest.mark.parametrize(("value", "message"), [("abc", "'abc' is not a number"), ("inf", "inf is not a finite")])
def test_non_numeric_and_non_finite_values(folder: Path, value: str, message: str) -> None:
    _set_line(folder / "3_tr.csv", 5, f"0.1,{value},0.3")
    with pytest.raises(DataError, match=rf"3_tr\.csv: line 5, column 2: {message}"):
        read_mogonet(folder)


@pytest.mark.parametrize(
    ("y_tr", "message"),
    [
        ([0, 1, 1, 0, 1, 0.5], r"labels_tr\.csv: line 6: label 5.0+e-01 is not an integer"),
        ([3, 1, 1, 3, 1, 3], "labels must be the consecutive class indices 0..C-1 .*; found 0, 1, 3"),
    ],
)
def test_bad_labels(tmp_path: Path, y_tr: list[float], message: str) -> None:
    _write_folder(tmp_path, y_tr=y_tr)
    with pytest.raises(DataError, match=message):
        read_mogonet(tmp_path)


def test_label_set_is_checked_over_both_splits(tmp_path: Path) -> None:
    _write_folder(tmp_path, y_tr=[0, 2, 2, 0, 2, 0], y_te=[0, 1, 1, 0])  # 0, 2 in training, 0, 1 in test
    assert sorted(set(read_mogonet(tmp_path).obs["label"])) == [0, 1, 2]


def test_labels_not_consecutive_names_the_labels_found(tmp_path: Path) -> None:
    """The first line holding a label that breaks 0..C-1 is named, with the labels found over both files."""
    _write_folder(tmp_path, y_tr=[0, 2, 2, 0, 2, 0], y_te=[0, 2, 0, 2])
    with pytest.raises(
        DataError, match=r"labels_tr\.csv: line 2: label 2 .*labels must be .*0\.\.C-1.*; found 0, 2 in labels_tr"
    ):
        read_mogonet(tmp_path)
    _write_folder(tmp_path, y_tr=[0, 1, 1, 0, 1, 0], y_te=[0, 1, -1, 1])
    with pytest.raises(DataError, match=r"labels_te\.csv: line 3: label -1 .*; found -1, 0, 1"):
        read_mogonet(tmp_path)
    _write_folder(tmp_path, y_tr=[1] * N_TR, y_te=[1] * N_TE)
    with pytest.raises(DataError, match=r"labels_tr\.csv: line 1: label 1 .*; found 1 in"):
        read_mogonet(tmp_path)
    _write_folder(tmp_path, y_tr=[0] * N_TR, y_te=[0] * N_TE)
    with pytest.raises(DataError, match=r"at least two classes; found 0$"):
        read_mogonet(tmp_path)


def test_a_label_outside_the_named_classes_names_the_file_line_value_and_the_expected_labels(folder: Path) -> None:
    """ROSMAP is binary (class_names NC, AD): a label 2 is a DataError naming the file, the 1-based line, the
    value and the labels expected, like every other label error (without class names, 0, 1, 2 are 3 classes)."""
    _set_line(folder / "labels_te.csv", 3, "2.000000000000000000e+00")
    assert sorted(set(read_mogonet(folder).obs["label"])) == [0, 1, 2]
    with pytest.raises(DataError) as info:
        read_mogonet(folder, class_names=["NC", "AD"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / 'labels_te.csv'}: line 3: label 2 is not one of the 2 classes")
    assert "expected 0 (NC) or 1 (AD)" in message
    with pytest.raises(DataError, match=r"labels_te\.csv: line 3: label 2 .*expected 0 \(NC\) or 1 \(AD\)"):
        read_omics(folder, class_names=["NC", "AD"])
    # the training file too, and a negative label
    _write_folder(folder, y_tr=[0, 1, 1, 0, -1, 0])
    with pytest.raises(DataError, match=r"labels_tr\.csv: line 5: label -1 is not one of the 2 classes"):
        read_mogonet(folder, class_names=["NC", "AD"])


def test_a_label_outside_the_named_classes_in_an_h5ad_names_the_sample(tmp_path: Path) -> None:
    adata = _h5ad_cohort()
    adata.obs["label"] = [0.0, 1.0, 2.0, 0.0, 1.0]
    path = tmp_path / "cohort.h5ad"
    adata.write_h5ad(path)
    assert sorted(set(read_omics(path).obs["label"])) == [0, 1, 2]
    with pytest.raises(DataError, match=rf"{path}: sample 's2': label 2 is not one of the 2 classes .*0 \(NC\)"):
        read_omics(path, class_names=["NC", "AD"])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", r"line 3 has no label \(''"),
        ("nan", r"line 3 has no label \('nan'"),
        ("AD", r"line 3: 'AD' is not a number"),
        ("0,1", "line 3 holds 2 values; expected one label per line"),
    ],
)
def test_nan_and_malformed_labels(folder: Path, line: str, message: str) -> None:
    _set_line(folder / "labels_te.csv", 3, line)
    with pytest.raises(DataError, match=rf"labels_te\.csv: {message}"):
        read_mogonet(folder)


def test_empty_modality(folder: Path) -> None:
    (folder / "2_tr.csv").write_text("")
    with pytest.raises(DataError, match=r"2_tr\.csv: the file is empty"):
        read_mogonet(folder)
    (folder / "2_tr.csv").write_text("\n" * N_TR)
    (folder / "2_te.csv").write_text(",,,\n" * N_TE)
    with pytest.raises(DataError, match=r"2_tr\.csv and 2_te\.csv hold no values .* modality 'meth' is empty"):
        read_mogonet(folder)


def test_featname_must_match_the_features(folder: Path) -> None:
    (folder / "1_featname.csv").write_text("a\nb\nc\n")
    with pytest.raises(DataError, match=r"1_featname\.csv: 3 feature names but 1_tr\.csv has 5 features"):
        read_mogonet(folder)
    (folder / "1_featname.csv").write_text("a\nb\nc\nb\ne\n\n")  # a trailing blank line is tolerated
    with pytest.raises(DataError, match=r"feature name 'b' appears twice \(lines 2 and 4\)"):
        read_mogonet(folder)


# ----------------------------------------------------------------------------------------------------
# The MuData form survives update, slicing and .h5mu


@pytest.mark.filterwarnings("ignore:From 0.4 .update:FutureWarning")  # mudata's notice for its default update
@pytest.mark.parametrize("pull_on_update", [None, False])
def test_label_and_split_survive_update_and_slicing(folder: Path, pull_on_update: bool | None) -> None:
    _set_line(folder / "2_tr.csv", 2, "")
    mdata = read_mogonet(folder)
    with md.set_options(pull_on_update=pull_on_update):
        mdata.update()
    assert mdata.obs["label"].tolist() == Y_TR + Y_TE and mdata.obs_names[0] == "tr0000"
    assert mdata.obs["split"].tolist() == ["train"] * N_TR + ["test"] * N_TE
    assert not modality_mask(mdata).loc["tr0001", "meth"]
    test = mdata[split_mask(mdata, "test")].copy()
    assert test.obs["label"].tolist() == Y_TE and test.mod["meth"].n_obs == N_TE


def test_h5mu_round_trip_keeps_order_and_missing_samples(folder: Path, tmp_path: Path) -> None:
    _set_line(folder / "1_tr.csv", 1, "")  # the first sample lacks mRNA: read_h5mu alone would reorder samples
    _set_line(folder / "3_te.csv", 2, "")
    mdata = read_mogonet(folder)
    path = write_h5mu(mdata, tmp_path / "out" / "cohort.h5mu")
    assert path == tmp_path / "out" / "cohort.h5mu" and [p.name for p in path.parent.iterdir()] == ["cohort.h5mu"]
    back = read_omics(path)
    _assert_same(back, mdata)
    assert back.obs["label"].dtype == np.int64 and back.mod["mrna"].X.dtype == np.float32
    assert read_omics(path, modalities=["mirna", "meth"]).mod.keys() == {"mirna", "meth"}
    assert list(read_omics(path, modalities=["mirna", "meth"]).mod) == ["mirna", "meth"]


def test_write_mogonet_round_trip_with_missing_rows(folder: Path, tmp_path: Path) -> None:
    _set_line(folder / "2_tr.csv", 6, "")
    _set_line(folder / "3_te.csv", 1, "nan,nan,nan")
    mdata = read_mogonet(folder)
    out = write_mogonet(mdata, tmp_path / "copy")
    assert out == tmp_path / "copy"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (out / "2_tr.csv").read_text().splitlines()[5] == ",,,"  # a missing sample as empty fields
    assert (out / "3_te.csv").read_text().splitlines()[0] == ",,"
    assert (out / "labels_te.csv").read_text() == "1.0\n0.0\n0.0\n1.0\n"
    _assert_same(read_mogonet(out), mdata)


def test_write_mogonet_float32_values_round_trip_exactly(tmp_path: Path) -> None:
    matrices = {1: (np.float32([[1 / 3, 2e-8, 0.1], [7.0, -1.5, 1e10]]), np.float32([[np.pi, 0.0, 1.0]]))}
    _write_folder(tmp_path / "a", matrices, y_tr=[0, 1], y_te=[1])
    mdata = read_mogonet(tmp_path / "a")
    back = read_mogonet(write_mogonet(mdata, tmp_path / "b"))
    np.testing.assert_array_equal(back.mod["mrna"].X, np.vstack(matrices[1]))


def test_write_mogonet_is_atomic_and_refuses_to_clobber(folder: Path, tmp_path: Path, monkeypatch) -> None:
    mdata = read_mogonet(folder)
    target = tmp_path / "target"
    write_mogonet(mdata, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(DataError, match=r"exists and is not empty; pass overwrite=True"):
        write_mogonet(mdata, target)

    # a failure half-way leaves the previous folder as it was, and no temporary folder behind
    calls = {"n": 0}
    real = mogonet_io._matrix_text

    def failing(x: np.ndarray) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(x)

    monkeypatch.setattr(mogonet_io, "_matrix_text", failing)
    changed = read_mogonet(folder)
    changed.mod["mrna"].X = changed.mod["mrna"].X * 0.5
    with pytest.raises(OSError, match=r"disk full"):
        write_mogonet(changed, target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mogonet", "target"]
    monkeypatch.undo()

    write_mogonet(changed, target, overwrite=True)
    np.testing.assert_array_equal(read_mogonet(target).mod["mrna"].X, changed.mod["mrna"].X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mogonet", "target"]

    (target / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"not part of a MOGONET folder \(notes.txt\)"):
        write_mogonet(mdata, target, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"


def test_write_mogonet_fails_cleanly_on_an_unwritable_feature_name(folder: Path, tmp_path: Path) -> None:
    mdata = read_mogonet(folder)
    mdata.mod["mirna"].var_names = ["ok", "line\nbreak", "x"]
    with pytest.raises(DataError, match=r"modality 'mirna' has feature name 'line\\nbreak'"):
        write_mogonet(mdata, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mogonet"]  # omics 1 and 2 were written, then removed


def test_written_folder_and_file_have_ordinary_permissions(folder: Path, tmp_path: Path) -> None:
    mdata = read_mogonet(folder)
    umask = os.umask(0o022)
    os.umask(umask)
    out = write_mogonet(mdata, tmp_path / "out")
    h5 = write_h5mu(mdata, tmp_path / "out.h5mu")
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert h5.stat().st_mode & 0o777 == 0o666 & ~umask


# ----------------------------------------------------------------------------------------------------
# .h5mu and .h5ad input, and their errors


def _h5ad_cohort() -> ad.AnnData:
    rng = np.random.default_rng(3)
    x = rng.random((5, 6)).astype(np.float32)
    x[1, 4:] = np.nan  # sample s1 lacks "b"
    obs = pd.DataFrame(
        {"label": [0.0, 1.0, 1.0, 0.0, 1.0], "split": ["train", "train", "train", "test", "test"], "age": range(5)},
        index=[f"s{k}" for k in range(5)],
    )
    var = pd.DataFrame({"modality": ["a", "a", "a", "a", "b", "b"]}, index=[f"f{j}" for j in range(6)])
    return ad.AnnData(x, obs=obs, var=var)


def test_read_h5ad_splits_features_by_modality(tmp_path: Path) -> None:
    adata = _h5ad_cohort()
    adata.write_h5ad(tmp_path / "cohort.h5ad")
    mdata = read_omics(tmp_path / "cohort.h5ad")
    assert list(mdata.mod) == ["a", "b"] and mdata.obs_names.tolist() == ["s0", "s1", "s2", "s3", "s4"]
    assert mdata.mod["a"].var_names.tolist() == ["f0", "f1", "f2", "f3"] and mdata.mod["b"].n_vars == 2
    assert mdata.obs["label"].tolist() == [0, 1, 1, 0, 1] and mdata.obs["label"].dtype == np.int64
    assert mdata.obs["age"].tolist() == [0, 1, 2, 3, 4]
    assert modality_mask(mdata)["b"].tolist() == [True, False, True, True, True]
    np.testing.assert_array_equal(to_arrays(mdata, "b"), adata.X[:, 4:])
    np.testing.assert_array_equal(to_arrays(mdata, "a"), adata.X[:, :4])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.var.drop(columns="modality", inplace=True), r"no var\['modality'\] column"),
        (lambda a: a.obs.drop(columns="label", inplace=True), r"no obs\['label'\] column"),
        (lambda a: a.obs.__setitem__("split", ["train", "valid", "train", "test", "test"]), "found 'valid'"),
        (lambda a: a.obs.__setitem__("label", [0, 1, np.nan, 0, 1]), r"1 sample\(s\) have no label \(NaN\), e.g. 's2'"),
        (lambda a: a.obs.__setitem__("label", [0, 1, 1.5, 0, 1]), "label 1.5 of sample 's2' is not an integer"),
        (lambda a: a.obs.__setitem__("label", [0, 2, 2, 0, 2]), "found 0, 2"),
        (lambda a: a.X.__setitem__((2, 1), np.nan), r"modality 'a', sample 's2' has 1 NaN value\(s\).*'f1'"),
        (lambda a: a.X.__setitem__((2, slice(None)), np.nan), r"1 sample\(s\) have no modality \('s2'\)"),
        (lambda a: a.X.__setitem__((slice(None), slice(4, 6)), np.nan), "modality 'b' holds no sample"),
        (lambda a: a.X.__setitem__((0, 0), np.inf), "feature 'f0': inf is not finite"),
    ],
)
def test_bad_h5ad(tmp_path: Path, change, message: str) -> None:
    adata = _h5ad_cohort()
    change(adata)
    adata.write_h5ad(tmp_path / "bad.h5ad")
    with pytest.raises(DataError, match=message) as e:
        read_omics(tmp_path / "bad.h5ad")
    assert str(tmp_path / "bad.h5ad") in str(e.value)


def test_bad_paths_and_files(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist; expected a MOGONET folder, an \.h5mu or an \.h5ad"):
        read_omics(tmp_path / "nope.h5mu")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(DataError, match=r"unsupported file type '\.csv'"):
        read_omics(tmp_path / "data.csv")
    (tmp_path / "corrupt.h5mu").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match=r"corrupt\.h5mu: cannot read it as \.h5mu"):
        read_omics(tmp_path / "corrupt.h5mu")
    assert read_omics(folder).n_obs == N_TR + N_TE
    assert list(read_omics(folder, modalities=["x", "y", "z"]).mod) == ["x", "y", "z"]


def test_bad_h5mu_content_and_modality_selection(folder: Path, tmp_path: Path) -> None:
    mdata = read_mogonet(folder)
    path = write_h5mu(mdata, tmp_path / "ok.h5mu")
    with pytest.raises(DataError, match=r"no modality 'mirnaa'; did you mean 'mirna'"):
        read_omics(path, modalities=["mirnaa"])
    del mdata.obs["split"]
    with md.set_options(pull_on_update=False):
        mdata.write_h5mu(tmp_path / "nosplit.h5mu")  # written around write_h5mu, which would refuse it
    with pytest.raises(DataError, match=r"nosplit\.h5mu: no 'split' column in the MuData's obs \(it has: label\)"):
        read_omics(tmp_path / "nosplit.h5mu")
    # a sample present only in a modality that is not selected has no modality left
    mdata = read_mogonet(folder)
    with md.set_options(pull_on_update=False):
        partial = md.MuData({"mrna": mdata.mod["mrna"][1:].copy(), "meth": mdata.mod["meth"].copy()})
    partial.obs = mdata.obs.copy()
    write_h5mu(partial, tmp_path / "partial.h5mu")
    with pytest.raises(DataError, match=r"1 sample\(s\) have no modality \('tr0000'\)"):
        read_omics(tmp_path / "partial.h5mu", modalities=["mrna"])


SKIPS_0 = r"sample 'tr0000': label 1 skips class 0 .*; labels must be"


def test_writers_refuse_bad_mudata_and_leave_files_alone(folder: Path, tmp_path: Path) -> None:
    mdata = read_mogonet(folder)
    path = write_h5mu(mdata, tmp_path / "keep.h5mu")
    before = path.read_bytes()
    bad = read_mogonet(folder)
    bad.obs["label"] = bad.obs["label"] + 1  # 1..2: not 0..C-1
    with pytest.raises(DataError, match=rf"write_h5mu: the MuData to write: {SKIPS_0}"):
        write_h5mu(bad, path)
    with pytest.raises(
        DataError,
        match=rf"write_mogonet: the MuData to write: {SKIPS_0}",
    ):
        write_mogonet(bad, tmp_path / "never")
    assert path.read_bytes() == before and not (tmp_path / "never").exists()
    with pytest.raises(DataError, match=r"an \.h5mu file name is expected"):
        write_h5mu(mdata, tmp_path / "x.h5ad")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5mu", "mogonet"]


def test_helpers_errors(folder: Path) -> None:
    mdata = read_mogonet(folder)
    with pytest.raises(DataError, match=r"no modality 'mrn'; did you mean 'mrna'"):
        to_arrays(mdata, "mrn")
    with pytest.raises(ConfigError, match=r"split must be 'train' or 'test'"):
        split_mask(mdata, "val")


# ----------------------------------------------------------------------------------------------------
# The real ROSMAP sample


@pytest.fixture(scope="module")
def rosmap() -> md.MuData:
    if not (ROSMAP / "1_tr.csv").exists():
        pytest.skip(f"the ROSMAP sample is not at {ROSMAP}")
    return read_mogonet(ROSMAP)


def test_rosmap(rosmap: md.MuData) -> None:
    assert rosmap.n_obs == 351
    assert {name: a.shape for name, a in rosmap.mod.items()} == {
        "mrna": (351, 200),
        "meth": (351, 200),
        "mirna": (351, 200),
    }
    assert rosmap.obs["split"].value_counts().to_dict() == {"train": 245, "test": 106}
    assert set(rosmap.obs["label"]) == {0, 1}
    assert rosmap.obs["label"][split_mask(rosmap, "train")].value_counts().to_dict() == {1: 127, 0: 118}
    assert rosmap.mod["mrna"].var_names[0].startswith("ENSG") and rosmap.mod["meth"].var_names[0].startswith("cg")
    assert rosmap.mod["mirna"].var_names[0].startswith("hsa-")
    assert modality_mask(rosmap).to_numpy().all()
    for name in rosmap.mod:  # MOGONET's preprocessing scales each omics matrix to [0, 1] as a whole
        x = rosmap.mod[name].X
        assert x.min() == 0.0 and x.max() == 1.0


def test_rosmap_h5mu_round_trip(rosmap: md.MuData, tmp_path: Path) -> None:
    back = read_omics(write_h5mu(rosmap, tmp_path / "rosmap.h5mu"))
    _assert_same(back, rosmap)
    _assert_same(read_mogonet(write_mogonet(rosmap, tmp_path / "rosmap")), rosmap)
