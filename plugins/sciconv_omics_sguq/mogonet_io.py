"""Readers and writers of MOGONET's multi-omics layout, of ``.h5mu`` and ``.h5ad`` files, and the MuData form.

MOGONET layout (the preprocessed ROSMAP and BRCA folders of Wang et al., Nature Communications 2021): one folder
of headerless, comma-separated text files, rows matching line by line across files of the same split:

- ``{i}_tr.csv``, ``{i}_te.csv``: omics ``i`` (numbered 1, 2, ... consecutively) of the training and test samples,
  one row per sample and one column per feature. Values are the preprocessed features (float; ROSMAP and BRCA
  scale each omics matrix to [0, 1]).
- ``{i}_featname.csv``: the feature names of omics ``i``, one per line (optional here; without it features are
  named ``<modality>_0``, ``<modality>_1``, ...).
- ``labels_tr.csv``, ``labels_te.csv``: one class label per line, written as floats (``0.0``, ``1.0``, ...); the
  labels are the class indices 0..C-1 (ROSMAP: 0 normal control, 1 Alzheimer's disease; BRCA: 5 subtypes).

For ROSMAP, omics 1 is mRNA expression, 2 DNA methylation and 3 miRNA expression (245 training and 106 test
samples, 200 features each). The files carry no sample ids: samples are named ``tr0000``, ``tr0001``, ... and
``te0000``, ... after their line (the width grows past four digits for larger splits).

The MuData form. Every reader returns a :class:`mudata.MuData` (``axis=0``: modalities share the samples) with

- one AnnData per modality, in file order, named by ``modalities`` (default ``("mrna", "meth", "mirna")``):
  ``X`` a dense float32 ``(n_present, n_features)`` array, ``obs_names`` the sample ids, ``var_names`` the
  feature names;
- on the MuData's own ``obs`` (not on the modalities): ``label`` (int64 class index) and ``split``
  (categorical, ``"train"`` or ``"test"``). They live on the MuData so that they survive ``mdata.update()`` and
  an ``.h5mu`` round trip; samples are ordered training first, then test, each in file order.

Missing modalities. A modality that was not measured for a sample is represented the MuData way: that sample is
absent from the modality's AnnData. ``mdata.obsm[modality]`` (a boolean column MuData maintains) and
:func:`modality_mask` say which sample has which modality; :func:`to_arrays` gives a modality as one
``(n_samples, n_features)`` array over all samples, with NaN rows where it is missing. In the CSV layout a
missing modality is a blank row: an empty line, a row of empty fields (``,,,``) or a row of ``nan``; the
writer writes rows of empty fields. A row with only SOME values missing is an error naming the file, line and
column: MOGONET's preprocessing leaves no partial NaNs, so impute such values before. In an ``.h5ad`` (one
matrix for every modality) and in an ``.h5mu``, a row of a modality that is entirely NaN likewise means the
modality is missing for that sample. Every sample must have at least one modality.

Unlabelled data (new patients to apply a finished run to): every reader takes ``unlabelled=True``. A folder then
holds only omics files, ``{i}_te.csv`` (the new patients; ``{i}_tr.csv`` too if present, read the same way), and
no label files are read (any there are ignored); an ``.h5mu`` / ``.h5ad`` needs no ``obs['label']`` nor
``obs['split']`` (ignored if present). Every sample then has ``label`` ``UNLABELLED`` (-1) and ``split``
``"test"``: there is no training split, and such a MuData can only be predicted, not trained on or written.

Every problem with the data is a :class:`~sciconv.errors.DataError` naming the file (or the input) and what
was expected; a bad argument is a :class:`~sciconv.errors.ConfigError`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sciconv.errors import ConfigError, DataError, did_you_mean
from sciconv.kit import atomic_directory, atomic_path

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

DEFAULT_MODALITIES: tuple[str, ...] = ("mrna", "meth", "mirna")
SPLITS: tuple[str, ...] = ("train", "test")
UNLABELLED = -1
"""The label of every sample read with ``unlabelled=True`` (no class)."""
_SUFFIX = {"train": "tr", "test": "te"}
_NA_STRINGS = ("", "nan", "NaN", "NAN", "NA", "na")

_OMICS_FILE = re.compile(r"^(\d+)_(tr|te|featname)\.csv$")
_LABEL_FILE = re.compile(r"^labels_(tr|te)\.csv$")


# ----------------------------------------------------------------------------------------------------
# Parsing the CSV files


def _read_lines(path: Path) -> list[str]:
    """The lines of a text file (any newline convention), or a DataError naming it."""
    if not path.is_file():
        what = "is a folder, not a file" if path.exists() else "is missing"
        raise DataError(f"{path}: {what}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text file ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    return text.splitlines()


def _is_blank(line: str) -> bool:
    return not line.strip(" \t,")


def _locate_bad_value(path: Path, lines: Sequence[str], rows: Sequence[int], error: Exception) -> DataError:
    """The DataError naming the first field of ``lines[rows]`` that is not a number."""
    for r in rows:
        for c, field in enumerate(lines[r].split(",")):
            value = field.strip()
            if value in _NA_STRINGS:
                continue
            try:
                float(value.replace("_", "x"))  # Python accepts 1_000, pandas does not
            except ValueError:
                hint = " (values must be separated by commas)" if any(sep in value for sep in ";\t ") else ""
                return DataError(f"{path}: line {r + 1}, column {c + 1}: {value!r} is not a number{hint}")
    return DataError(f"{path}: cannot be parsed as comma-separated numbers ({error})")


def _parse_matrix(path: Path) -> tuple[np.ndarray, int | None]:
    """A headerless comma-separated matrix as float64 ``(n_lines, n_columns)``, blank rows as NaN rows.

    Returns the array and its number of columns, ``None`` (and zero columns) when every row is blank.
    """
    lines = _read_lines(path)
    if not lines:
        raise DataError(f"{path}: the file is empty; expected one row per sample, one column per feature")
    filled = [r for r, line in enumerate(lines) if not _is_blank(line)]
    if not filled:
        return np.full((len(lines), 0), np.nan), None
    counts = [lines[r].count(",") + 1 for r in filled]
    n_cols = counts[0]
    for r, n in zip(filled, counts, strict=True):
        if n != n_cols:
            raise DataError(
                f"{path}: line {r + 1} has {n} values but line {filled[0] + 1} has {n_cols}; every row must hold "
                "one value per feature (or be blank where the sample lacks this modality)"
            )
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines[r] for r in filled)),
            header=None,
            names=range(n_cols),
            dtype=np.float64,
            na_values=list(_NA_STRINGS),
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except (ValueError, pd.errors.ParserError) as e:
        raise _locate_bad_value(path, lines, filled, e) from e
    values = np.full((len(lines), n_cols), np.nan)
    values[filled] = frame.to_numpy(dtype=np.float64)
    infinite = np.argwhere(np.isinf(values))
    if len(infinite):
        r, c = (int(i) for i in infinite[0])
        raise DataError(f"{path}: line {r + 1}, column {c + 1}: {values[r, c]} is not a finite number")
    nan = np.isnan(values)
    partial = np.flatnonzero(nan.any(axis=1) & ~nan.all(axis=1))
    if len(partial):
        r = int(partial[0])
        c = int(np.flatnonzero(nan[r])[0])
        raise DataError(
            f"{path}: line {r + 1}, column {c + 1} is empty or NaN while the rest of the row holds values "
            f"({int(nan[r].sum())} of {n_cols} missing; {len(partial)} such row(s)); a row must be complete, or "
            "blank where the sample lacks this modality. MOGONET's preprocessed data hold no partial NaNs: "
            "impute them before reading"
        )
    return values, n_cols


def _read_labels(path: Path) -> np.ndarray:
    """One integer label per line, checked line by line (int64)."""
    lines = _read_lines(path)
    if not lines:
        raise DataError(f"{path}: the file is empty; expected one label per sample, one per line")
    labels = np.empty(len(lines), dtype=np.int64)
    for r, line in enumerate(lines):
        field = line.strip()
        if "," in field:
            raise DataError(f"{path}: line {r + 1} holds {field.count(',') + 1} values; expected one label per line")
        if field in _NA_STRINGS:
            raise DataError(f"{path}: line {r + 1} has no label ({field!r}: blank or NaN); every sample needs one")
        try:
            value = float(field)
        except ValueError:
            raise DataError(f"{path}: line {r + 1}: {field!r} is not a number; expected a class label") from None
        if not np.isfinite(value):
            raise DataError(f"{path}: line {r + 1} has no usable label ({field!r})")
        if value != round(value):
            raise DataError(f"{path}: line {r + 1}: label {field} is not an integer; labels are class indices 0..C-1")
        labels[r] = round(value)
    return labels


def _check_label_set(
    labels: np.ndarray, source: str, where: Callable[[int], str] | None = None, scope: str | None = None
) -> None:
    """Labels must be the class indices 0..C-1, each used, C >= 2. ``where(k)`` names label ``k``'s place (``FILE:
    line N``) for the error: the first label out of sequence (negative, or skipping a class) is named there, and
    ``scope`` (default ``source``) says where the labels listed were found."""
    found = np.unique(labels)
    n_classes = int(found.max()) + 1 if found.size else 0
    if found.size >= 2 and np.array_equal(found, np.arange(n_classes)):
        return
    listing = ", ".join(str(int(v)) for v in found)
    rule = "labels must be the consecutive class indices 0..C-1 with at least two classes"
    off = np.flatnonzero(found != np.arange(found.size))
    if where is None or not len(off):
        raise DataError(f"{source}: {rule}; found {listing}")
    c = int(off[0])
    bad = int(found[c])
    k = int(np.flatnonzero(labels == bad)[0])
    why = "is negative" if bad < 0 else f"skips class {c} (no sample has label {c})"
    raise DataError(f"{where(k)}: label {bad} {why}; {rule}; found {listing} in {scope or source}")


def _expected_labels(class_names: Sequence[str]) -> str:
    """``0 (NC) or 1 (AD)``: the class indices the names stand for."""
    items = [f"{k} ({name})" for k, name in enumerate(class_names)]
    if len(items) > 8:
        return f"0..{len(items) - 1} ({class_names[0]} .. {class_names[-1]})"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _check_label_range(
    labels: np.ndarray, class_names: Sequence[str] | None, classes_from: str, where: Callable[[int], str]
) -> None:
    """Every label must index one of ``class_names``: the first that does not is a DataError at ``where(k)``."""
    if class_names is None:
        return
    outside = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
    if len(outside):
        k = int(outside[0])
        count = f" ({len(outside)} such labels)" if len(outside) > 1 else ""
        raise DataError(
            f"{where(k)}: label {int(labels[k])} is not one of the {len(class_names)} classes named by "
            f"{classes_from}{count}; expected {_expected_labels(class_names)} (name every class in {classes_from} "
            "if the data hold more)"
        )


def _read_featnames(path: Path, n_features: int, tr_name: str) -> list[str]:
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines
    names = [line.strip() for line in lines]
    if len(names) != n_features:
        raise DataError(
            f"{path}: {len(names)} feature names but {tr_name} has {n_features} features (columns); expected one "
            "name per line, one line per feature"
        )
    for r, name in enumerate(names):
        if not name:
            raise DataError(f"{path}: line {r + 1} is blank; expected a feature name")
    seen: dict[str, int] = {}
    for r, name in enumerate(names):
        if name in seen:
            raise DataError(f"{path}: feature name {name!r} appears twice (lines {seen[name] + 1} and {r + 1})")
        seen[name] = r
    return names


def _sample_ids(split: str, n: int) -> list[str]:
    width = max(4, len(str(max(n - 1, 0))))
    return [f"{_SUFFIX[split]}{k:0{width}d}" for k in range(n)]


def _check_modality_names(modalities: Sequence[str], n_needed: int | None, source: str) -> tuple[str, ...]:
    if isinstance(modalities, str) or not isinstance(modalities, Sequence) or not modalities:
        raise ConfigError(f"modalities must be a non-empty list of names, got {modalities!r}")
    names = tuple(modalities)
    for name in names:
        if not isinstance(name, str) or not name or "/" in name or ":" in name:
            raise ConfigError(f"modality names must be non-empty strings without '/' or ':', got {name!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"modalities names a modality twice: {list(names)}")
    if n_needed is not None and len(names) < n_needed:
        raise ConfigError(
            f"{source} holds {n_needed} omics (1_tr.csv .. {n_needed}_tr.csv) but modalities names only "
            f"{len(names)}: {list(names)}"
        )
    return names


# ----------------------------------------------------------------------------------------------------
# Building and checking the MuData form


def _assemble(mods: Mapping[str, AnnData], obs: pd.DataFrame, uns: Mapping[str, Any] | None = None) -> MuData:
    """A MuData of ``mods`` whose samples are ``obs.index`` in that order, with ``obs``'s columns."""
    import mudata as md

    with md.set_options(pull_on_update=False):
        mdata = md.MuData(dict(mods))
        mdata.obs = obs.copy()
        mdata.update()
    if uns:
        mdata.uns.update(dict(uns))
    return mdata


def _label_column(
    values: pd.Series, source: str, class_names: Sequence[str] | None = None, classes_from: str = "class_names"
) -> np.ndarray:
    ids = values.index
    raw = values.astype(object) if isinstance(values.dtype, pd.CategoricalDtype) else values
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = numeric.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: label {raw.iloc[k]!r} of sample {ids[k]!r} is not a number; labels are class indices"
        )
    numeric = numeric.to_numpy(dtype=np.float64)
    missing = np.flatnonzero(np.isnan(numeric))
    if len(missing):
        raise DataError(f"{source}: {len(missing)} sample(s) have no label (NaN), e.g. {ids[missing[0]]!r}")
    fractional = np.flatnonzero(numeric != np.round(numeric))
    if len(fractional):
        k = int(fractional[0])
        raise DataError(
            f"{source}: label {numeric[k]:g} of sample {ids[k]!r} is not an integer; labels are class indices 0..C-1"
        )
    labels = np.round(numeric).astype(np.int64)

    def where(k: int) -> str:
        return f"{source}: sample {ids[k]!r}"

    _check_label_range(labels, class_names, classes_from, where)
    _check_label_set(labels, source, where, "obs['label']")
    return labels


def _split_column(values: pd.Series, source: str) -> pd.Categorical:
    as_str = values.astype(object)
    bad = ~as_str.isin(SPLITS).to_numpy()
    if bad.any():
        found = sorted({repr(v) for v in as_str[bad]})
        raise DataError(f"{source}: split must be 'train' or 'test' for every sample; found {', '.join(found)}")
    return pd.Categorical(as_str.to_numpy(), categories=list(SPLITS))


def _dense_float(adata: AnnData, name: str, source: str) -> np.ndarray:
    import scipy.sparse

    x = adata.X
    if x is None:
        raise DataError(f"{source}: modality {name!r} has no data matrix X")
    if scipy.sparse.issparse(x):
        x = x.toarray()
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: modality {name!r} holds values of dtype {x.dtype}; expected numbers")
    return x.astype(np.float64)


def _normalize(
    mdata: Any,
    source: str,
    modalities: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    classes_from: str = "class_names",
    unlabelled: bool = False,
) -> MuData:
    """Check a MuData against the form documented at the top of this module and return it in that form.

    Rows of a modality that are entirely NaN are dropped (the modality is missing for that sample); the
    modalities are made dense float32; ``label`` becomes int64 and ``split`` categorical. The sample order
    is ``mdata.obs_names``'s. With ``unlabelled``, ``obs['label']`` and ``obs['split']`` are not read: every
    sample gets label :data:`UNLABELLED` and split ``"test"``.
    """
    import mudata as md

    if not isinstance(mdata, md.MuData):
        raise DataError(f"{source}: expected a MuData, got {type(mdata).__name__}")
    if getattr(mdata, "axis", 0) != 0:
        raise DataError(f"{source}: the MuData has axis={mdata.axis}; expected axis=0 (modalities share samples)")
    if not mdata.mod:
        raise DataError(f"{source}: holds no modality")
    names = list(mdata.mod)
    if modalities is not None:
        wanted = _check_modality_names(modalities, None, source)
        for name in wanted:
            if name not in mdata.mod:
                raise DataError(
                    f"{source}: no modality {name!r}{did_you_mean(name, names)}; it holds {', '.join(names)}"
                )
        names = list(wanted)
    obs = mdata.obs
    for column in () if unlabelled else ("label", "split"):
        if column not in obs.columns:
            raise DataError(
                f"{source}: no {column!r} column in the MuData's obs (it has: "
                f"{', '.join(map(str, obs.columns)) or 'none'}); "
                "the class label (int 0..C-1) and the split ('train'/'test') belong on the MuData's own obs (new, "
                "unlabelled samples are read with the unlabelled option, dataset.params.unlabelled=true)"
            )
    if not obs.index.is_unique:
        dup = obs.index[obs.index.duplicated()][0]
        raise DataError(f"{source}: sample id {dup!r} appears more than once")
    if unlabelled:
        label = np.full(mdata.n_obs, UNLABELLED, dtype=np.int64)
        split = pd.Categorical(["test"] * mdata.n_obs, categories=list(SPLITS))
    else:
        label = _label_column(obs["label"], source, class_names, classes_from)
        split = _split_column(obs["split"], source)

    mods = {}
    present = np.zeros(mdata.n_obs, dtype=bool)
    for name in names:
        adata = mdata.mod[name]
        if adata.n_vars == 0:
            raise DataError(f"{source}: modality {name!r} has no features (zero columns)")
        if not adata.var_names.is_unique:
            dup = adata.var_names[adata.var_names.duplicated()][0]
            raise DataError(f"{source}: modality {name!r} names feature {dup!r} more than once")
        x = _dense_float(adata, name, source)
        if np.isinf(x).any():
            r, c = (int(i) for i in np.argwhere(np.isinf(x))[0])
            raise DataError(
                f"{source}: modality {name!r}, sample {adata.obs_names[r]!r}, feature {adata.var_names[c]!r}: "
                f"{x[r, c]} is not finite"
            )
        nan = np.isnan(x)
        blank = nan.all(axis=1)
        partial = np.flatnonzero(nan.any(axis=1) & ~blank)
        if len(partial):
            r = int(partial[0])
            c = int(np.flatnonzero(nan[r])[0])
            raise DataError(
                f"{source}: modality {name!r}, sample {adata.obs_names[r]!r} has {int(nan[r].sum())} NaN value(s) "
                f"(the first for feature {adata.var_names[c]!r}) among real ones; a sample's row must be complete, "
                "or all NaN / absent where the modality is missing. Impute partial NaNs before"
            )
        keep = ~blank
        if not keep.any():
            raise DataError(f"{source}: modality {name!r} holds no sample (zero rows with values)")
        sub = adata[keep].copy() if not keep.all() else adata.copy()
        sub.X = x[keep].astype(np.float32)
        mods[name] = sub
        present[mdata.obs_names.get_indexer(sub.obs_names)] = True
    if not present.all():
        lost = mdata.obs_names[~present]
        raise DataError(
            f"{source}: {len(lost)} sample(s) have no modality ({', '.join(map(repr, lost[:5]))}"
            f"{', ...' if len(lost) > 5 else ''}); every sample needs at least one"
        )
    new_obs = obs.copy()
    new_obs["label"] = label
    new_obs["split"] = split
    return _assemble(mods, new_obs, mdata.uns)


# ----------------------------------------------------------------------------------------------------
# Reading


def read_mogonet(
    root: str | Path,
    modalities: Sequence[str] = DEFAULT_MODALITIES,
    *,
    class_names: Sequence[str] | None = None,
    classes_from: str = "class_names",
    unlabelled: bool = False,
) -> MuData:
    """Read a folder in MOGONET's layout (see the module docstring) into the MuData form.

    Args:
        root: folder holding ``{i}_tr.csv``, ``{i}_te.csv`` (i = 1..N, N >= 1), optionally ``{i}_featname.csv``,
            and ``labels_tr.csv``, ``labels_te.csv``.
        modalities: names of omics 1, 2, ... (at least N; extra names are ignored, so the default reads folders
            of one to three omics).
        class_names: the names of the classes the labels must index (ROSMAP: ``("NC", "AD")``): a label outside
            0..len(class_names)-1 is a DataError naming its file and line; ``None``: any labels 0..C-1.
        classes_from: how an error names where ``class_names`` came from (the dataset passes its override key,
            ``dataset.params.class_names``).
        unlabelled: the folder holds new samples without labels: ``{i}_te.csv`` (and ``{i}_tr.csv`` where
            present: the training files are not needed), no label files (any there are not read); the omics
            files of a split must then agree on their number of rows. Every sample is in split ``"test"`` with
            label :data:`UNLABELLED`.

    Returns:
        A ``mudata.MuData`` with ``n_train + n_test`` samples (``tr0000``.., then ``te0000``..) and one modality
        per omics (``X`` float32 ``(n_present, n_features)``), ``obs['label']`` int64 and ``obs['split']``
        (``"train"``/``"test"``). Blank rows are samples lacking that modality.

    Raises:
        DataError: a missing folder or file, omics not numbered 1..N, non-numeric or non-finite values,
            partially empty rows, row counts differing from the labels file, feature counts differing between
            the training and test files, an empty modality, feature names not matching the features, labels
            that are NaN, not integers, not 0..C-1 or not classes of ``class_names``, or a sample blank in every
            omics.
        ConfigError: too few or invalid modality names.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: the MOGONET folder does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected a MOGONET folder of {{i}}_tr.csv, {{i}}_te.csv, labels_*.csv")
    files = [m for p in root.iterdir() if (m := _OMICS_FILE.match(p.name)) and p.is_file()]
    if unlabelled:
        return _read_unlabelled(root, modalities, files)
    numbers = sorted(int(m.group(1)) for m in files if m.group(2) == "tr")
    if 1 not in numbers:
        raise DataError(
            f"{root}: no 1_tr.csv; a MOGONET folder holds {{i}}_tr.csv and {{i}}_te.csv for omics i = 1, 2, ..., "
            "optionally {i}_featname.csv, and labels_tr.csv, labels_te.csv (new, unlabelled samples in {i}_te.csv "
            "alone are read with the unlabelled option, dataset.params.unlabelled=true)"
        )
    if numbers != list(range(1, len(numbers) + 1)):
        raise DataError(
            f"{root}: omics files must be numbered consecutively from 1; found "
            + ", ".join(f"{i}_tr.csv" for i in numbers)
        )
    names = _check_modality_names(modalities, len(numbers), str(root))

    labels = {split: _read_labels(root / f"labels_{_SUFFIX[split]}.csv") for split in SPLITS}
    for split in SPLITS:
        file = root / f"labels_{_SUFFIX[split]}.csv"
        _check_label_range(labels[split], class_names, classes_from, lambda k, file=file: f"{file}: line {k + 1}")
    n_tr = len(labels["train"])

    def where(k: int) -> str:
        split = "train" if k < n_tr else "test"
        return f"{root / f'labels_{_SUFFIX[split]}.csv'}: line {k + 1 if k < n_tr else k - n_tr + 1}"

    _check_label_set(
        np.concatenate([labels["train"], labels["test"]]),
        f"{root}: labels_tr.csv, labels_te.csv",
        where,
        "labels_tr.csv and labels_te.csv",
    )
    ids = {split: _sample_ids(split, len(labels[split])) for split in SPLITS}
    all_ids = ids["train"] + ids["test"]

    import anndata as ad

    mods = {}
    present = np.zeros(len(all_ids), dtype=bool)
    for i, name in zip(numbers, names, strict=False):
        values, n_cols = {}, {}
        for split in SPLITS:
            file = f"{i}_{_SUFFIX[split]}.csv"
            values[split], n_cols[split] = _parse_matrix(root / file)
            n_rows, n_labels = len(values[split]), len(labels[split])
            if n_rows != n_labels:
                trailing = n_rows - n_labels if n_rows > n_labels else 0
                hint = (
                    f"; its last {trailing} row(s) are blank, and a blank row is a sample lacking this modality: "
                    "remove blank lines at the end of the file"
                    if trailing and np.isnan(values[split][-trailing:]).all()
                    else ""
                )
                raise DataError(
                    f"{root}: {file} has {n_rows} rows but labels_{_SUFFIX[split]}.csv has {n_labels}; expected one "
                    f"row per sample, in the order of the labels{hint}"
                )
        tr, te = f"{i}_tr.csv", f"{i}_te.csv"
        if n_cols["train"] is None and n_cols["test"] is None:
            raise DataError(f"{root}: {tr} and {te} hold no values (every row is blank): modality {name!r} is empty")
        if None not in n_cols.values() and n_cols["train"] != n_cols["test"]:
            raise DataError(
                f"{root}: {tr} has {n_cols['train']} features (columns) but {te} has {n_cols['test']}; both splits "
                "must hold the same features"
            )
        n_features = next(n for n in (n_cols["train"], n_cols["test"]) if n is not None)
        for split in SPLITS:
            if n_cols[split] is None:
                values[split] = np.full((len(values[split]), n_features), np.nan)
        x = np.concatenate([values["train"], values["test"]])
        featname = root / f"{i}_featname.csv"
        if featname.exists():
            var_names = _read_featnames(featname, n_features, tr if n_cols["train"] is not None else te)
        else:
            var_names = [f"{name}_{j}" for j in range(n_features)]
        keep = ~np.isnan(x).all(axis=1)
        present |= keep
        kept_ids = [s for s, k in zip(all_ids, keep, strict=True) if k]
        mods[name] = ad.AnnData(
            X=x[keep].astype(np.float32),
            obs=pd.DataFrame(index=pd.Index(kept_ids, dtype=object)),
            var=pd.DataFrame(index=pd.Index(var_names, dtype=object)),
        )
    if not present.all():
        k = int(np.flatnonzero(~present)[0])
        split = "train" if k < len(ids["train"]) else "test"
        line = k + 1 if split == "train" else k - len(ids["train"]) + 1
        raise DataError(
            f"{root}: sample {all_ids[k]} (line {line} of the *_{_SUFFIX[split]}.csv files) is blank in every omics "
            f"file ({int((~present).sum())} such sample(s)); every sample needs at least one modality"
        )
    obs = pd.DataFrame(
        {
            "label": np.concatenate([labels["train"], labels["test"]]),
            "split": pd.Categorical(
                ["train"] * len(ids["train"]) + ["test"] * len(ids["test"]), categories=list(SPLITS)
            ),
        },
        index=pd.Index(all_ids, dtype=object),
    )
    return _assemble(mods, obs)


def _read_unlabelled(root: Path, modalities: Sequence[str], files: Sequence[re.Match[str]]) -> MuData:
    """A MOGONET folder of new samples without labels (see :func:`read_mogonet`, ``unlabelled``)."""
    import anndata as ad

    splits = [split for split in SPLITS if any(m.group(2) == _SUFFIX[split] for m in files)]
    if not splits:
        raise DataError(
            f"{root}: no omics files; a folder of new, unlabelled samples holds {{i}}_te.csv for omics i = 1, 2, ... "
            "(one row per sample, one column per feature), optionally {i}_featname.csv"
        )
    numbers = sorted({int(m.group(1)) for m in files if m.group(2) in ("tr", "te")})
    if numbers != list(range(1, len(numbers) + 1)):
        raise DataError(
            f"{root}: omics files must be numbered consecutively from 1; found "
            + ", ".join(sorted(m.group(0) for m in files if m.group(2) != "featname"))
        )
    names = _check_modality_names(modalities, len(numbers), str(root))
    values: dict[tuple[int, str], np.ndarray] = {}
    n_cols: dict[tuple[int, str], int | None] = {}
    for i in numbers:
        for split in splits:
            values[i, split], n_cols[i, split] = _parse_matrix(root / f"{i}_{_SUFFIX[split]}.csv")
    n_rows = {split: len(values[1, split]) for split in splits}
    for i in numbers:
        for split in splits:
            if len(values[i, split]) != n_rows[split]:
                file, first = f"{i}_{_SUFFIX[split]}.csv", f"1_{_SUFFIX[split]}.csv"
                raise DataError(
                    f"{root}: {file} has {len(values[i, split])} rows but {first} has {n_rows[split]}; expected one "
                    "row per sample in every omics file, in the same order (a blank row where a sample lacks the "
                    "omics)"
                )
    ids = {split: _sample_ids(split, n_rows[split]) for split in splits}
    all_ids = [s for split in splits for s in ids[split]]
    mods = {}
    present = np.zeros(len(all_ids), dtype=bool)
    for i, name in zip(numbers, names, strict=False):
        found = {split: n_cols[i, split] for split in splits if n_cols[i, split] is not None}
        listed = " and ".join(f"{i}_{_SUFFIX[split]}.csv" for split in splits)
        if not found:
            raise DataError(f"{root}: {listed} hold no values (every row is blank): modality {name!r} is empty")
        if len(set(found.values())) > 1:
            raise DataError(
                f"{root}: {i}_tr.csv has {found['train']} features (columns) but {i}_te.csv has {found['test']}; "
                "both must hold the same features"
            )
        n_features = next(iter(found.values()))
        x = np.concatenate(
            [
                values[i, split] if n_cols[i, split] is not None else np.full((n_rows[split], n_features), np.nan)
                for split in splits
            ]
        )
        featname = root / f"{i}_featname.csv"
        if featname.exists():
            var_names = _read_featnames(featname, n_features, f"{i}_{_SUFFIX[next(iter(found))]}.csv")
        else:
            var_names = [f"{name}_{j}" for j in range(n_features)]
        keep = ~np.isnan(x).all(axis=1)
        present |= keep
        mods[name] = ad.AnnData(
            X=x[keep].astype(np.float32),
            obs=pd.DataFrame(index=pd.Index([s for s, k in zip(all_ids, keep, strict=True) if k], dtype=object)),
            var=pd.DataFrame(index=pd.Index(var_names, dtype=object)),
        )
    if not present.all():
        k = int(np.flatnonzero(~present)[0])
        split = "train" if all_ids[k].startswith(_SUFFIX["train"]) else "test"
        line = k + 1 if split == splits[0] else k - n_rows[splits[0]] + 1
        raise DataError(
            f"{root}: sample {all_ids[k]} (line {line} of the *_{_SUFFIX[split]}.csv files) is blank in every omics "
            f"file ({int((~present).sum())} such sample(s)); every sample needs at least one modality"
        )
    obs = pd.DataFrame(
        {
            "label": np.full(len(all_ids), UNLABELLED, dtype=np.int64),
            "split": pd.Categorical(["test"] * len(all_ids), categories=list(SPLITS)),
        },
        index=pd.Index(all_ids, dtype=object),
    )
    return _assemble(mods, obs)


def _from_anndata(adata: AnnData, source: str, unlabelled: bool = False) -> MuData:
    """An AnnData whose ``var['modality']`` splits its features into modalities, as a MuData."""
    import anndata as ad

    var = adata.var
    if "modality" not in var.columns:
        raise DataError(
            f"{source}: no var['modality'] column; an .h5ad must name each feature's modality (e.g. 'mrna', "
            f"'meth', 'mirna'); var has: {', '.join(map(str, var.columns)) or 'no columns'}"
        )
    modality = var["modality"].astype(object)
    if modality.isna().any():
        raise DataError(f"{source}: var['modality'] is missing for feature {var.index[modality.isna()][0]!r}")
    modality = modality.astype(str)
    if adata.n_obs == 0:
        raise DataError(f"{source}: holds no samples")
    x = _dense_float(adata, "(all)", source)
    mods = {}
    obs_index = adata.obs_names
    for name in dict.fromkeys(modality):  # order of first appearance
        columns = (modality == name).to_numpy()
        mods[name] = ad.AnnData(
            X=x[:, columns],
            obs=pd.DataFrame(index=obs_index.copy()),
            var=var.loc[columns].drop(columns="modality"),
        )
    for column in () if unlabelled else ("label", "split"):
        if column not in adata.obs.columns:
            raise DataError(
                f"{source}: no obs[{column!r}] column; an .h5ad needs obs['label'] and obs['split'] (new, "
                "unlabelled samples are read with the unlabelled option, dataset.params.unlabelled=true)"
            )
    return _assemble(mods, adata.obs.copy(), adata.uns)


def _stored_obs_order(path: Path) -> pd.Index | None:
    """The sample order an ``.h5mu`` file stores (``read_h5mu`` rebuilds it from the modalities)."""
    import anndata as ad
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return pd.Index(ad.io.read_elem(f["obs"]).index)
    except Exception:  # an unusual but readable file: keep read_h5mu's order
        return None


def read_omics(
    path: str | Path,
    modalities: Sequence[str] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    classes_from: str = "class_names",
    unlabelled: bool = False,
) -> MuData:
    """Read a multi-omics dataset into the MuData form (see the module docstring), whatever its format.

    Args:
        path: a MOGONET folder (read with :func:`read_mogonet`); an ``.h5mu`` file whose MuData has
            ``obs['label']`` and ``obs['split']``; or an ``.h5ad`` file, one AnnData ``(n_samples,
            n_features)`` with ``obs['label']``, ``obs['split']`` and ``var['modality']`` naming the modality
            of each feature (modalities in order of first appearance; a row entirely NaN within a modality
            means that modality is missing for the sample).
        modalities: for a folder, the names of omics 1, 2, ... (default ``("mrna", "meth", "mirna")``); for a
            file, the modalities to keep, in this order (default: all, in the file's order).
        class_names, classes_from: the classes the labels must index, and how an error names their origin (see
            :func:`read_mogonet`); a file's label outside them is a DataError naming the sample.
        unlabelled: new samples without labels (see the module docstring): no label files or columns are read,
            every sample is in split ``"test"`` with label :data:`UNLABELLED`.

    Returns:
        A ``mudata.MuData`` in the form :func:`read_mogonet` returns.

    Raises:
        DataError: a missing or unreadable path, an unsupported format, or content that breaks the form
            (missing label/split/modality columns, bad labels or splits, non-finite or partially NaN rows,
            empty modalities, samples in no modality).
    """
    path = Path(path)
    if path.is_dir():
        return read_mogonet(
            path,
            DEFAULT_MODALITIES if modalities is None else modalities,
            class_names=class_names,
            classes_from=classes_from,
            unlabelled=unlabelled,
        )
    if not path.exists():
        raise DataError(f"{path}: does not exist; expected a MOGONET folder, an .h5mu or an .h5ad file")
    suffix = path.suffix.lower()
    if suffix not in (".h5mu", ".h5ad"):
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected a MOGONET folder, .h5mu or .h5ad"
        )
    try:
        if suffix == ".h5mu":
            import mudata as md

            with md.set_options(pull_on_update=False):
                data = md.read_h5mu(path)
        else:
            import anndata as ad

            data = ad.read_h5ad(path)
    except Exception as e:  # h5py, anndata and mudata raise many types for a corrupt file
        raise DataError(f"{path}: cannot read it as {suffix} ({type(e).__name__}: {e})") from e
    source = str(path)
    if suffix == ".h5ad":
        return _normalize(
            _from_anndata(data, source, unlabelled), source, modalities, class_names, classes_from, unlabelled
        )
    order = _stored_obs_order(path)
    if order is not None and order.is_unique and set(order) == set(data.obs_names) and not order.equals(data.obs_names):
        data = _assemble(dict(data.mod), data.obs.loc[order], data.uns)
    return _normalize(data, source, modalities, class_names, classes_from, unlabelled)


# ----------------------------------------------------------------------------------------------------
# Helpers for model code


def modality_mask(mdata: MuData) -> pd.DataFrame:
    """Which sample has which modality: a bool DataFrame ``(n_samples, n_modalities)``, rows ``mdata.obs_names``,
    columns the modality names in ``mdata.mod`` order."""
    obs_names = mdata.obs_names
    return pd.DataFrame(
        {name: obs_names.isin(adata.obs_names) for name, adata in mdata.mod.items()},
        index=obs_names.copy(),
    )


def to_arrays(mdata: MuData, modality: str) -> np.ndarray:
    """One modality over all samples: float32 ``(n_samples, n_features)`` in ``mdata.obs_names`` order, with a
    row of NaN for each sample lacking the modality (``np.isnan(x).all(axis=1)`` is the absence mask)."""
    mods = mdata.mod
    if modality not in mods:
        raise DataError(
            f"no modality {modality!r}{did_you_mean(modality, list(mods))}; the data hold {', '.join(mods)}"
        )
    adata = mods[modality]
    x = np.full((mdata.n_obs, adata.n_vars), np.nan, dtype=np.float32)
    rows = mdata.obs_names.get_indexer(adata.obs_names)
    if (rows < 0).any():
        raise DataError(f"modality {modality!r} holds samples the MuData does not list; call mdata.update() first")
    values = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    x[rows] = values
    return x


def labels(mdata: MuData) -> np.ndarray:
    """The class indices, int64 ``(n_samples,)`` in ``mdata.obs_names`` order."""
    return mdata.obs["label"].to_numpy(dtype=np.int64)


def split_mask(mdata: MuData, split: str) -> np.ndarray:
    """Bool ``(n_samples,)``: which samples belong to ``split`` (``"train"`` or ``"test"``)."""
    if split not in SPLITS:
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    return (mdata.obs["split"].astype(object) == split).to_numpy()


# ----------------------------------------------------------------------------------------------------
# Writing


def _check_replaceable(root: Path, overwrite: bool) -> None:
    """Refuse to replace anything but an empty folder or, with ``overwrite``, a MOGONET folder."""
    if not root.exists():
        return
    if not root.is_dir():
        raise DataError(f"{root}: exists and is not a folder; not replacing it")
    entries = list(root.iterdir())
    if not entries:
        return
    if not overwrite:
        raise DataError(f"{root}: the folder exists and is not empty; pass overwrite=True to replace a MOGONET folder")
    foreign = [
        p.name for p in entries if not (p.is_file() and (_OMICS_FILE.match(p.name) or _LABEL_FILE.match(p.name)))
    ]
    if foreign:
        raise DataError(
            f"{root}: holds files that are not part of a MOGONET folder ({', '.join(sorted(foreign)[:5])}); "
            "not replacing it"
        )


def _matrix_text(x: np.ndarray) -> str:
    """Rows of ``x`` as comma-separated ``%.9g`` values (exact for float32), NaN rows as empty fields."""
    n_cols = x.shape[1]
    blank = "," * (n_cols - 1)
    fmt = ",".join(["%.9g"] * n_cols)
    lines = [blank if np.isnan(row).all() else fmt % tuple(row) for row in x.astype(np.float64)]
    return "".join(line + "\n" for line in lines)


def _lines_text(items: Iterable[str]) -> str:
    return "".join(f"{item}\n" for item in items)


def write_mogonet(mdata: MuData, root: str | Path, overwrite: bool = False) -> Path:
    """Write a MuData in the form documented above as a MOGONET folder; :func:`read_mogonet` reads it back.

    Modality ``k`` (in ``mdata.mod`` order) becomes ``{k+1}_tr.csv``, ``{k+1}_te.csv`` and
    ``{k+1}_featname.csv``; rows are the training (then test) samples in ``mdata.obs_names`` order, values
    written with 9 significant digits (exact for float32), a sample lacking the modality as a row of empty
    fields; labels as ``0.0``, ``1.0``, .... The layout keeps neither sample ids nor modality names: reading it
    back names samples ``tr0000``, ... and modalities by the reader's ``modalities``.

    The folder is written into a temporary sibling folder and renamed into place, so ``root`` is either left
    as it was or complete. An existing non-empty ``root`` is replaced only with ``overwrite=True`` and only if
    it holds nothing but MOGONET files. Returns ``root``.

    Raises:
        DataError: ``mdata`` breaks the form (see :func:`read_omics`), a feature name holds a line break, or
            ``root`` cannot be replaced.
    """
    mdata = _normalize(mdata, "write_mogonet: the MuData to write")
    root = Path(root)
    _check_replaceable(root, overwrite)
    order = {split: split_mask(mdata, split) for split in SPLITS}
    with atomic_directory(root) as tmp:
        for i, (name, adata) in enumerate(mdata.mod.items(), start=1):
            var_names = [str(v) for v in adata.var_names]
            for v in var_names:
                if "\n" in v or "\r" in v or not v.strip() or v != v.strip():
                    raise DataError(
                        f"write_mogonet: modality {name!r} has feature name {v!r}, which cannot be written one per "
                        "line (blank, surrounding whitespace or a line break)"
                    )
            x = to_arrays(mdata, name)
            for split in SPLITS:
                (tmp / f"{i}_{_SUFFIX[split]}.csv").write_text(_matrix_text(x[order[split]]), encoding="utf-8")
            (tmp / f"{i}_featname.csv").write_text(_lines_text(var_names), encoding="utf-8")
        y = labels(mdata)
        for split in SPLITS:
            (tmp / f"labels_{_SUFFIX[split]}.csv").write_text(
                _lines_text(f"{v:.1f}" for v in y[order[split]].astype(np.float64)), encoding="utf-8"
            )
    return root


def write_h5mu(mdata: MuData, path: str | Path) -> Path:
    """Write a MuData in the form documented above to an ``.h5mu`` file that :func:`read_omics` reads back
    unchanged (sample order included). Written to a temporary file in the same folder, then renamed over
    ``path``, so a reader never sees half a file. Returns ``path``.

    Raises:
        DataError: ``mdata`` breaks the form, or ``path`` does not end in ``.h5mu``.
    """
    path = Path(path)
    if path.suffix.lower() != ".h5mu":
        raise DataError(f"{path}: an .h5mu file name is expected")
    mdata = _normalize(mdata, "write_h5mu: the MuData to write")
    import mudata as md

    with atomic_path(path, suffix=".h5mu") as tmp, md.set_options(pull_on_update=False):
        mdata.write_h5mu(tmp)
    return path
