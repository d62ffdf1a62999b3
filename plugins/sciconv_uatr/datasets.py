"""Ship-radiated noise recordings as sciconv dataset components: segments, their spectrograms and their classical
features.

Three datasets, all reading WAV files with the real readers:

- :class:`SimulatedDeepShipDataset` (``uatr.simulated``): ship passages simulated by :mod:`.ship_noise_simulator`
  into the simulation cache (:func:`sciconv.kit.cached_simulation`) in the DeepShip layout and read back with
  :func:`.deepship_io.list_deepship`;
- :class:`DeepShipDataset` (``uatr.deepship``): a DeepShip folder (``root``: ``<Class>/<id>.wav`` and a metafile
  per class), any subset of the four classes;
- :class:`ShipsEarDataset` (``uatr.shipsear``): a ShipsEar folder, with the authors' 9-class recording-level split
  (``split: xie2023-9class``) or a split file.

Every recording is read at ``sample_rate`` (resampled where its own rate differs), cut into ``segment_s``-second
segments every ``hop_s`` seconds, and each segment becomes a log-power spectrogram (:mod:`.spectral_features`:
``feature`` ``stft``, ``mel``, ``bark`` or ``cqt``) and a vector of classical features (:mod:`.baselines`). Both are
computed once per set of files and parameters (:func:`sciconv.kit.cached_arrays`).

The bundle: ``train`` holds every segment as ``(x, y)``, ``x`` float32 ``(1, n_bands, n_frames)`` in dB, ``y`` the
class index (``-1`` for an unlabelled recording); ``val`` and ``test`` are ``None`` (the task splits by recording,
or by ship, itself). ``info``: ``recordings`` (one dict per recording: ``recording_id``, ``label``, ``ship``,
``path``, ``duration_s``, ``n_segments``), ``segment_recording`` (index into ``recordings`` of each segment),
``segment_start_s``, ``classical`` ``(n_segments, d)``, (simulated data: each recording's ``subtype`` and
``condition``), ``classes``, ``split`` (recording id -> ``train`` /
``test``, or ``None``), ``group_by_ship`` (whether every recording names its ship), ``features`` (the front-end's
settings, its frame hop ``hop_s``, and ``segment_s`` / ``segment_hop_s``), ``labelled``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_arrays, cached_simulation, file_fingerprints, require_root
from sciconv_uatr.recordings import AudioNotice, Recording, cut_segments

FEATURES_VERSION = "1"  # raise when a change of the segmenting or the front-ends changes the cached arrays

Seconds = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
FeatureKind = Annotated[str, Field(pattern="^(stft|mel|bark|cqt)$")]


class _RecordingsDataset(DatasetBase):
    """Segments and features of a list of recordings (the readers differ, the rest is shared)."""

    component = "uatr"
    default_classes: Sequence[str] | None = None

    def __init__(
        self,
        segment_s: Seconds = 3.0,
        hop_s: Seconds = 1.5,
        sample_rate: Annotated[int, Field(ge=4000, le=192000)] = 16000,
        feature: FeatureKind = "mel",
        frame_s: Seconds = 0.064,
        frame_hop_s: Seconds = 0.032,
        n_bands: Annotated[int, Field(ge=8, le=1024)] = 64,
        fmin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 10.0,
        fmax: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None,
        classes: list[str] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.segment_s = float(segment_s)
        self.hop_s = float(hop_s)
        self.sample_rate = int(sample_rate)
        self.feature = feature
        self.frame_s = float(frame_s)
        self.frame_hop_s = float(frame_hop_s)
        self.n_bands = int(n_bands)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.classes = list(classes) if classes is not None else None
        self.cache_dir = cache_dir

    # -- parameters ------------------------------------------------------------------------------------------

    def feature_config(self) -> Any:
        from sciconv_uatr.spectral_features import FeatureConfig

        return FeatureConfig(
            kind=self.feature,
            sample_rate=self.sample_rate,
            frame_s=self.frame_s,
            hop_s=self.frame_hop_s,
            n_bands=self.n_bands,
            fmin=self.fmin,
            fmax=self.fmax,
        )

    def validate(self) -> None:
        if self.frame_s > self.segment_s:
            raise ConfigError(
                f"dataset.params.frame_s: the analysis frame ({self.frame_s:g} s) must fit in one segment "
                f"(segment_s {self.segment_s:g} s)"
            )
        try:
            self.feature_config().validate()
        except ConfigError as exc:
            raise ConfigError(f"dataset.params: {exc}") from None

    # -- reading ---------------------------------------------------------------------------------------------

    def recordings(self) -> tuple[list[Recording], dict[str, str] | None]:
        """The dataset's recordings, and its fixed train / test split by recording id where it has one."""
        raise NotImplementedError

    def recording_details(self, recording: Recording) -> dict[str, Any]:
        """Further facts about a recording for the report (a simulation's ground truth); none by default."""
        return {}

    def load(self) -> DataBundle:
        self.validate()
        recordings, split = self.recordings()
        if not recordings:
            raise DataError(f"{self.component}: no recordings to read")
        arrays = self._features(recordings)
        counts = np.bincount(arrays["segment_recording"], minlength=len(recordings))
        used = [i for i, r in enumerate(recordings) if counts[i] > 0]
        if not used:
            raise DataError(
                f"{self.component}: every recording is shorter than one {self.segment_s:g} s segment; "
                "lower dataset.params.segment_s"
            )
        labels = [r.label for r in recordings]
        labelled = all(label is not None for label in labels)
        classes = tuple(sorted({label for label in labels if label is not None}))
        if labelled and len(classes) < 2:
            raise DataError(
                f"{self.component}: recordings of {len(classes)} class ({', '.join(classes)}); recognition needs "
                "at least two classes"
            )
        index = {c: i for i, c in enumerate(classes)}
        recording_label = np.array([index.get(label, -1) if label is not None else -1 for label in labels])
        y = recording_label[arrays["segment_recording"]].astype(np.int64)
        features = arrays["features"].astype(np.float32, copy=False)
        import torch
        from torch.utils.data import TensorDataset

        x = torch.from_numpy(features[:, None])
        spec = DataSpec(
            input_shape=tuple(x.shape[1:]),
            n_outputs=len(classes) if labelled else 1,
            task_type="classification",
            sfreq=float(self.sample_rate),
            classes=classes if labelled else ("unlabelled",),
            units="dB",
            extra={"feature": self.feature, "segment_s": self.segment_s, "labelled": labelled},
        )
        table = [
            {
                "recording_id": r.recording_id,
                "label": r.label,
                "ship": r.ship,
                "path": str(r.path),
                "duration_s": float(r.duration_s),
                "n_segments": int(counts[i]),
                **self.recording_details(r),
            }
            for i, r in enumerate(recordings)
        ]
        info = {
            "recordings": table,
            "segment_recording": arrays["segment_recording"].astype(np.int64),
            "segment_start_s": arrays["segment_start_s"].astype(np.float64),
            "classical": arrays["classical"].astype(np.float64),
            "classes": list(classes),
            "split": split,
            "group_by_ship": all(r.ship is not None for r in recordings),
            "features": self.feature_config().as_dict() | {"segment_s": self.segment_s, "segment_hop_s": self.hop_s},
            "labelled": labelled,
        }
        return DataBundle(train=TensorDataset(x, torch.from_numpy(y)), val=None, test=None, spec=spec, info=info)

    def _features(self, recordings: list[Recording]) -> dict[str, np.ndarray]:
        config = self.feature_config()
        params = {
            "files": file_fingerprints(r.path for r in recordings),
            "features": config.as_dict(),
            "segment_s": self.segment_s,
            "hop_s": self.hop_s,
        }

        def compute() -> dict[str, np.ndarray]:
            from sciconv_uatr.baselines import classical_features
            from sciconv_uatr.spectral_features import spectrogram
            from sciconv_uatr.wav_io import read_audio

            spectra, classical, owner, starts = [], [], [], []
            for i, recording in enumerate(recordings):
                signal, rate = read_audio(recording.path, self.sample_rate)
                segments = cut_segments(signal, rate, self.segment_s, self.hop_s, name=recording.path)
                if len(segments) == 0:
                    continue
                spectra.append(spectrogram(segments, config))
                classical.append(classical_features(segments, rate))
                owner.append(np.full(len(segments), i, dtype=np.int64))
                starts.append(np.arange(len(segments)) * self.hop_s)
            if not spectra:
                return {
                    "features": np.zeros((0, 1, 1), np.float32),
                    "classical": np.zeros((0, 1)),
                    "segment_recording": np.zeros(0, np.int64),
                    "segment_start_s": np.zeros(0),
                }
            return {
                "features": np.concatenate(spectra).astype(np.float32),
                "classical": np.concatenate(classical),
                "segment_recording": np.concatenate(owner),
                "segment_start_s": np.concatenate(starts),
            }

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioNotice)
            arrays = cached_arrays("uatr-features", params, compute, version=FEATURES_VERSION, cache_dir=self.cache_dir)
        for warning in caught:  # notices of this computation, shown once each (a cached load repeats none)
            warnings.warn(warning.message, warning.category, stacklevel=2)
        return arrays


class SimulatedDeepShipDataset(_RecordingsDataset):
    """Simulated ship passages in the DeepShip layout (:func:`.ship_noise_simulator.simulate_deepship`), read back
    with the DeepShip reader. Each ship is recorded ``recordings_per_ship`` times (other days, speeds and ranges),
    and its name is in the metafile, so splits can keep a ship's recordings together.

    Args:
        ships_per_class: ships simulated per class.
        recordings_per_ship: passages recorded per ship.
        duration_s: length of each recording in seconds.
        seed: the simulation's seed.
        root: read this DeepShip folder instead of simulating (``pipeline predict RUN_DIR dataset.params.root=NEW``).
        unlabelled: with ``root``, read every WAV under it without labels, to predict.
        (the rest: see the module docstring)
    """

    component = "uatr.simulated"

    def __init__(
        self,
        ships_per_class: Annotated[int, Field(ge=1)] = 6,
        recordings_per_ship: Annotated[int, Field(ge=1)] = 2,
        duration_s: Seconds = 20.0,
        seed: int = 0,
        root: str | None = None,
        unlabelled: bool = False,
        segment_s: Seconds = 3.0,
        hop_s: Seconds = 1.5,
        sample_rate: Annotated[int, Field(ge=4000, le=192000)] = 16000,
        feature: FeatureKind = "mel",
        frame_s: Seconds = 0.064,
        frame_hop_s: Seconds = 0.032,
        n_bands: Annotated[int, Field(ge=8, le=1024)] = 64,
        fmin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 10.0,
        fmax: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None,
        classes: list[str] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(
            segment_s, hop_s, sample_rate, feature, frame_s, frame_hop_s, n_bands, fmin, fmax, classes, cache_dir
        )
        self.ships_per_class = int(ships_per_class)
        self.recordings_per_ship = int(recordings_per_ship)
        self.duration_s = float(duration_s)
        self.seed = int(seed)
        self.root = root
        self.unlabelled = bool(unlabelled)

    def validate(self) -> None:
        super().validate()
        if self.duration_s < self.segment_s:
            raise ConfigError(
                f"dataset.params.duration_s ({self.duration_s:g} s) is shorter than one segment "
                f"(segment_s {self.segment_s:g} s)"
            )
        from sciconv_uatr.ship_noise_simulator import DEEPSHIP_CLASSES

        unknown = sorted(set(self.classes or ()) - set(DEEPSHIP_CLASSES))
        if unknown:
            raise ConfigError(
                f"dataset.params.classes: unknown class {', '.join(unknown)}; the simulator knows "
                f"{', '.join(DEEPSHIP_CLASSES)}"
            )

    def recordings(self) -> tuple[list[Recording], dict[str, str] | None]:
        from sciconv_uatr.deepship_io import list_deepship
        from sciconv_uatr.ship_noise_simulator import DEEPSHIP_CLASSES, SIMULATOR_VERSION, simulate_deepship

        if self.root is not None or self.unlabelled:  # recordings of the user's instead of the simulation
            root = require_root(
                self.root, self.component, "a DeepShip folder, or any folder of WAVs with unlabelled=true"
            )
            return (unlabelled_recordings(root) if self.unlabelled else list_deepship(root, self.classes)), None

        classes = tuple(self.classes or DEEPSHIP_CLASSES)
        params = {
            "classes": list(classes),
            "ships_per_class": self.ships_per_class,
            "recordings_per_ship": self.recordings_per_ship,
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
            "seed": self.seed,
        }

        def write(folder: Path) -> None:
            simulate_deepship(folder, **params)

        folder = cached_simulation("uatr-deepship", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir)
        records = json.loads((folder / "recordings.json").read_text(encoding="utf-8"))
        self._truth = {str(folder / r["file"]): {"subtype": r["subtype"], "condition": r["condition"]} for r in records}
        return list_deepship(folder, list(classes)), None

    def recording_details(self, recording: Recording) -> dict[str, Any]:
        """The simulated ship's subtype (container ship, laden tanker, ...) and the passage's condition."""
        return dict(getattr(self, "_truth", {}).get(str(recording.path), {}))


class DeepShipDataset(_RecordingsDataset):
    """A DeepShip folder (``root``): ``<Class>/<id>.wav`` with a metafile per class, any subset of the classes
    Cargo, Passengership, Tanker and Tug (``classes``; default every class folder holding recordings).

    ``unlabelled=true`` reads every WAV under ``root`` (any layout) without labels, for ``pipeline predict``.
    """

    component = "uatr.deepship"

    def __init__(
        self,
        root: str | None = None,
        unlabelled: bool = False,
        segment_s: Seconds = 3.0,
        hop_s: Seconds = 1.5,
        sample_rate: Annotated[int, Field(ge=4000, le=192000)] = 16000,
        feature: FeatureKind = "mel",
        frame_s: Seconds = 0.064,
        frame_hop_s: Seconds = 0.032,
        n_bands: Annotated[int, Field(ge=8, le=1024)] = 64,
        fmin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 10.0,
        fmax: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None,
        classes: list[str] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(
            segment_s, hop_s, sample_rate, feature, frame_s, frame_hop_s, n_bands, fmin, fmax, classes, cache_dir
        )
        self.root = root
        self.unlabelled = bool(unlabelled)

    def recordings(self) -> tuple[list[Recording], dict[str, str] | None]:
        root = require_root(
            self.root, self.component, "a DeepShip folder: <Class>/<id>.wav and <Class>/<class>-metafile"
        )
        if self.unlabelled:
            return unlabelled_recordings(root), None
        from sciconv_uatr.deepship_io import list_deepship

        return list_deepship(root, self.classes), None


class ShipsEarDataset(_RecordingsDataset):
    """A ShipsEar folder (``root``; files ``<id>__<date>_<description>.wav``, flat or in class folders), the
    classes ``classes`` (default the 9 of the authors' split), with the fixed split ``split``: ``xie2023-9class``
    (the recording-level split of Xu, Xie and Wang 2023 that the CMoE paper uses: 64 train / 21 test recordings) or
    the path of a split file (:func:`.shipsear_io.read_split_file`).

    The published protocol cuts 30 s segments (``segment_s=30``); ShipsEar's own rate is 52,734 Hz, resampled to
    ``sample_rate``.
    """

    component = "uatr.shipsear"

    def __init__(
        self,
        root: str | None = None,
        split: str = "xie2023-9class",
        unlabelled: bool = False,
        segment_s: Seconds = 30.0,
        hop_s: Seconds = 15.0,
        sample_rate: Annotated[int, Field(ge=4000, le=192000)] = 16000,
        feature: FeatureKind = "mel",
        frame_s: Seconds = 0.064,
        frame_hop_s: Seconds = 0.032,
        n_bands: Annotated[int, Field(ge=8, le=1024)] = 64,
        fmin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 10.0,
        fmax: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None,
        classes: list[str] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(
            segment_s, hop_s, sample_rate, feature, frame_s, frame_hop_s, n_bands, fmin, fmax, classes, cache_dir
        )
        self.root = root
        self.split = split
        self.unlabelled = bool(unlabelled)

    def recordings(self) -> tuple[list[Recording], dict[str, str] | None]:
        root = require_root(self.root, self.component, "a ShipsEar folder of <id>__<date>_<description>.wav files")
        if self.unlabelled:
            return unlabelled_recordings(root), None
        from sciconv_uatr.shipsear_io import SHIPSEAR_CLASS_OF_ID, XIE_9CLASS_SPLIT, list_shipsear, shipsear_split

        classes = self.classes or sorted({SHIPSEAR_CLASS_OF_ID[i] for i in XIE_9CLASS_SPLIT})
        recordings = list_shipsear(root, classes)
        split = shipsear_split(recordings, self.split)
        kept = [r for r in recordings if r.recording_id in split]
        return kept, {r.recording_id: split[r.recording_id] for r in kept}


def unlabelled_recordings(root: Path) -> list[Recording]:
    """Every WAV under ``root`` (recursively, sorted), without a label: recordings to predict."""
    from sciconv_uatr.wav_io import audio_info

    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not paths:
        raise DataError(f"{root}: no .wav files under this folder")
    out = []
    for path in paths:
        rate, duration, _ = audio_info(path)
        out.append(Recording(path, None, str(path.relative_to(root)), None, duration, rate))
    return out
