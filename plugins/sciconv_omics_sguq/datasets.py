"""The multi-omics datasets as sciconv dataset components.

Both return a :class:`~sciconv.DataBundle` built by :func:`bundle_from` from the MuData form of
:mod:`sciconv_omics_sguq.mogonet_io`:

- ``info["mudata"]`` is the :class:`mudata.MuData` itself (modalities, ``obs['label']``, ``obs['split']``,
  missing modalities as absent samples). The SGUQ task works from it: it needs every modality separately,
  which samples have which omics, and all samples for its repeated splits.
- ``train`` and ``test`` are the dataset's own split as ``TensorDataset(x, y)``: ``x`` float32 of shape
  ``(sum of the modalities' features,)``, the modalities concatenated in order, with zeros where a sample lacks
  a modality (``info["available"]`` says where: a bool ``(n_samples, n_modalities)`` array); ``y`` the class
  index. They serve generic tools (the conformance kit, a quick baseline); ``val`` is ``None`` because the task
  carves its validation samples from the training data itself.
- ``spec``: ``input_shape = (total features,)``, the classes, and in ``spec.extra`` the ``modalities`` and
  their ``n_features`` (what :class:`~sciconv_omics_sguq.models.mogonet.MOGONETNet` sizes itself from), the dataset's
  ``name`` and the sizes of its splits.

Unlabelled data (``MOGONETDataset(unlabelled=True)``, new patients to apply a finished run to with ``pipeline
predict``): every sample is in ``test`` with target ``-1`` (:data:`~sciconv_omics_sguq.mogonet_io.UNLABELLED`),
``train`` is ``None``, the spec is the one labelled data of the same omics would give, its classes the given
``class_names``, with ``spec.extra["unlabelled"] = True``. Such a bundle can be predicted, not trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_simulation, require_root

_FILE_SUFFIXES = (".h5mu", ".h5ad")
_NEED_CLASS_NAMES = (
    "dataset.params.class_names: {source} is read with dataset.params.unlabelled=true, so its samples cannot tell "
    "the classes; give the trained run's class names, e.g. dataset.params.class_names=[NC,AD] (see the run's "
    "config.yaml)"
)


def bundle_from(
    mdata: Any, name: str, class_names: Sequence[str] | None = None, source: str = "", unlabelled: bool = False
) -> DataBundle:
    """Wrap a MuData in the form of :mod:`~sciconv_omics_sguq.mogonet_io` as a :class:`DataBundle` (see the
    module docstring). ``class_names`` name the classes 0..C-1 (default ``"0"``, ``"1"``, ...). ``unlabelled``:
    the MuData was read with ``unlabelled=True`` (every sample a test sample with label -1); ``class_names``
    are then required (the data cannot tell the classes)."""
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

    from sciconv_omics_sguq.mogonet_io import labels, modality_mask, split_mask, to_arrays

    modalities = list(mdata.mod)
    y = labels(mdata)
    if unlabelled:
        if class_names is None:
            raise ConfigError(_NEED_CLASS_NAMES.format(source=source or name))
        n_classes = len(class_names)
    else:
        n_classes = int(y.max()) + 1
    if class_names is None:
        class_names = tuple(str(c) for c in range(n_classes))
    elif len(class_names) != n_classes:
        raise ConfigError(
            f"dataset.params.class_names: {len(class_names)} names {list(class_names)} but the data hold "
            f"{n_classes} classes (labels 0..{n_classes - 1})"
        )
    blocks = [to_arrays(mdata, m) for m in modalities]
    x = np.nan_to_num(np.concatenate(blocks, axis=1), nan=0.0).astype(np.float32)
    available = modality_mask(mdata).to_numpy()
    train, test = split_mask(mdata, "train"), split_mask(mdata, "test")
    if not train.any() and not unlabelled:
        raise DataError(f"{source or name}: no training samples (obs['split'] == 'train')")
    spec = DataSpec(
        input_shape=(x.shape[1],),
        n_outputs=n_classes,
        task_type="classification",
        classes=tuple(class_names),
        units="preprocessed omics values (MOGONET layout)",
        extra={
            "dataset": name,
            "modalities": modalities,
            "n_features": [int(b.shape[1]) for b in blocks],
            "n_train": int(train.sum()),
            "n_test": int(test.sum()),
            **({"unlabelled": True} if unlabelled else {}),
        },
    )
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    split_sets = {
        split: TensorDataset(x_t[torch.from_numpy(mask)], y_t[torch.from_numpy(mask)]) if mask.any() else None
        for split, mask in (("train", train), ("test", test))
    }
    info = {
        "mudata": mdata,
        "source": source,
        "modalities": modalities,
        "available": available,
        "missing": {m: int((~available[:, j]).sum()) for j, m in enumerate(modalities)},
    }
    return DataBundle(train=split_sets["train"], val=None, test=split_sets["test"], spec=spec, info=info)


def _check_class_names(class_names: Sequence[str] | None) -> None:
    if class_names is None:
        return
    if isinstance(class_names, str) or len(class_names) < 2 or len(set(class_names)) != len(class_names):
        raise ConfigError(
            f"dataset.params.class_names: expected distinct names for classes 0, 1, ..., got {class_names!r}"
        )


def _check_modalities(modalities: Sequence[str] | None) -> None:
    if modalities is None:
        return
    if isinstance(modalities, str) or not modalities or len(set(modalities)) != len(modalities):
        raise ConfigError(f"dataset.params.modalities: expected distinct modality names, got {modalities!r}")


class MOGONETDataset(DatasetBase):
    """A multi-omics dataset in MOGONET's layout (the preprocessed ROSMAP and BRCA folders), or an ``.h5mu`` /
    ``.h5ad`` file, read with :func:`~sciconv_omics_sguq.mogonet_io.read_omics`.

    Args:
        root: the folder (``1_tr.csv``, ``1_te.csv``, ..., ``labels_tr.csv``, ``labels_te.csv``) or the file.
        modalities: for a folder, the names of omics 1, 2, ... (default ``mrna``, ``meth``, ``mirna``, ROSMAP's
            order); for a file, the modalities to keep (default all).
        class_names: names of classes 0, 1, ... (ROSMAP: ``[NC, AD]``); default the indices. With names, a label
            outside 0..len(class_names)-1 is a DataError naming its file and line (or sample).
        name: the dataset's name in reports (default the folder's or file's name).
        unlabelled: ``False`` (the default): the data carry labels and their train/test split, as above.
            ``True``: new patients to predict with a finished run (``pipeline predict RUN_DIR
            dataset.params.root=NEW dataset.params.unlabelled=true``): a folder needs only the omics files
            ``{i}_te.csv`` (``{i}_tr.csv`` are read too where present; ``{i}_featname.csv`` optional) and no label
            files, a file no ``obs['label']`` / ``obs['split']``; labels there are ignored. Every sample is a
            test sample with target -1 (no metrics), and ``class_names`` must name the run's classes. A run cannot
            be trained on such data.
    """

    def __init__(
        self,
        root: str | None = None,
        modalities: tuple[str, ...] | None = None,
        class_names: tuple[str, ...] | None = None,
        name: str | None = None,
        unlabelled: bool = False,
    ) -> None:
        self.root = root
        self.modalities = modalities
        self.class_names = class_names
        self.name = name
        self.unlabelled = unlabelled

    def _path(self) -> Path:
        path = require_root(
            self.root, "omics-sguq.mogonet-layout", "a MOGONET folder (or an .h5mu / .h5ad file)", kind="any"
        )
        if not path.is_dir() and path.suffix.lower() not in _FILE_SUFFIXES:
            raise ConfigError(
                f"dataset.params.root: {path} is neither a MOGONET folder nor an .h5mu / .h5ad file "
                f"(suffix {path.suffix or '(none)'!r})"
            )
        return path

    def validate(self) -> None:
        path = self._path()
        _check_modalities(self.modalities)
        _check_class_names(self.class_names)
        if self.unlabelled and self.class_names is None:
            raise ConfigError(_NEED_CLASS_NAMES.format(source=path))

    def load(self) -> DataBundle:
        from sciconv_omics_sguq.mogonet_io import read_omics

        self.validate()
        path = self._path()
        mdata = read_omics(
            path,
            None if self.modalities is None else list(self.modalities),
            class_names=None if self.class_names is None else list(self.class_names),
            classes_from="dataset.params.class_names",
            unlabelled=self.unlabelled,
        )
        name = self.name or (path.name if path.is_dir() else path.stem)
        return bundle_from(mdata, name, self.class_names, source=str(path), unlabelled=self.unlabelled)


class SimulatedCohortDataset(DatasetBase):
    """A simulated multi-omics AD cohort (:mod:`~sciconv_omics_sguq.cohort_simulator`: mRNA, methylation, miRNA
    of ROSMAP's size and scales by default) written in MOGONET's layout with
    :func:`~sciconv_omics_sguq.cohort_simulator.write_simulated_cohort`, then read back with the real reader.

    Args:
        n_train, n_test, n_features, n_classes, class_balance, effect_sizes, signal_noise, missing_fractions,
        class_separation, informative_fraction, n_modules, n_batches, seed: the simulator's parameters (see
            :func:`~sciconv_omics_sguq.cohort_simulator.simulate_cohort`); ``missing_fractions`` makes samples lack
            modalities (e.g. ``{meth: 0.2, mirna: 0.3}``).
        class_names: names of classes 0, 1, ...; default ``NC``, ``AD`` for two classes, else ``stage 0``, ...
        cache_dir: the cache of simulations (default ``None``: the default cache,
            ``$SCICONV_CACHE_DIR/simulations`` or ``~/.cache/sciconv/simulations``). The cohort is written there
            once per set of simulator parameters, in a sub-folder ``cohort-<hash of the parameters>``
            (:func:`sciconv.kit.cached_simulation`), and read from there on later runs (delete it to simulate
            again).
    """

    def __init__(
        self,
        n_train: Annotated[int, Field(ge=1)] = 245,
        n_test: Annotated[int, Field(ge=1)] = 106,
        n_features: Annotated[int, Field(ge=1)] = 200,
        n_classes: Annotated[int, Field(ge=2)] = 2,
        class_balance: tuple[float, ...] | None = None,
        effect_sizes: dict[str, float] | None = None,
        signal_noise: dict[str, float] | None = None,
        missing_fractions: dict[str, float] | None = None,
        class_separation: float = 4.0,
        informative_fraction: float = 0.2,
        n_modules: int = 10,
        n_batches: int = 4,
        seed: int = 0,
        class_names: tuple[str, ...] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.n_train = n_train
        self.n_test = n_test
        self.n_features = n_features
        self.n_classes = n_classes
        self.class_balance = class_balance
        self.effect_sizes = effect_sizes
        self.signal_noise = signal_noise
        self.missing_fractions = missing_fractions
        self.class_separation = class_separation
        self.informative_fraction = informative_fraction
        self.n_modules = n_modules
        self.n_batches = n_batches
        self.seed = seed
        self.class_names = class_names
        self.cache_dir = cache_dir

    def simulator_params(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~sciconv_omics_sguq.cohort_simulator.simulate_cohort`."""
        return {
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "class_balance": None if self.class_balance is None else list(self.class_balance),
            "effect_sizes": None if self.effect_sizes is None else dict(self.effect_sizes),
            "signal_noise": None if self.signal_noise is None else dict(self.signal_noise),
            "missing_fractions": None if self.missing_fractions is None else dict(self.missing_fractions),
            "class_separation": self.class_separation,
            "informative_fraction": self.informative_fraction,
            "n_modules": self.n_modules,
            "n_batches": self.n_batches,
            "seed": self.seed,
        }

    def _class_names(self) -> tuple[str, ...]:
        if self.class_names is not None:
            return tuple(self.class_names)
        return ("NC", "AD") if self.n_classes == 2 else tuple(f"stage {c}" for c in range(self.n_classes))

    def validate(self) -> None:
        """Check what the signature's constraints (checked by the pipeline) cannot: the classes against the
        training samples and the class names, the missing fractions."""
        if self.n_train < 2 * self.n_classes:
            raise ConfigError(
                f"dataset.params.n_train: {self.n_train} training samples are too few for {self.n_classes} classes"
            )
        _check_class_names(self.class_names)
        if self.class_names is not None and len(self.class_names) != self.n_classes:
            raise ConfigError(f"dataset.params.class_names: {len(self.class_names)} names for {self.n_classes} classes")
        if isinstance(self.missing_fractions, Mapping):
            for key, value in self.missing_fractions.items():
                if not 0.0 <= float(value) < 1.0:
                    raise ConfigError(
                        f"dataset.params.missing_fractions.{key}: expected a fraction in [0, 1), got {value}"
                    )

    def _write(self, folder: Path) -> None:
        """Simulate the cohort and write it in MOGONET's layout into the (empty) ``folder``."""
        from sciconv_omics_sguq.cohort_simulator import write_simulated_cohort

        try:
            write_simulated_cohort(folder, **self.simulator_params())
        except ConfigError as exc:
            raise ConfigError(f"dataset.params: {exc}") from None

    def load(self) -> DataBundle:
        from sciconv_omics_sguq.mogonet_io import read_mogonet

        self.validate()
        from sciconv_omics_sguq.cohort_simulator import SIMULATOR_VERSION

        root = cached_simulation(
            "cohort", self.simulator_params(), self._write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir
        )
        return bundle_from(read_mogonet(root), "simulated-cohort", self._class_names(), source=str(root))
