"""The SSVEP datasets as sciconv dataset components.

Each returns a :class:`~sciconv.DataBundle` whose ``train`` split holds every trial (full epochs,
microvolts) and whose ``info["recording"]`` is the :class:`SSVEPRecording` the speller task
cross-validates; ``val`` and ``test`` are ``None`` because the protocol makes its own folds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError
from sciconv.kit import cached_simulation, require_root
from sciconv_bci_ssvep.recording import BENCHMARK_LATENCY_S, BETA_LATENCY_S, OCCIPITAL_9, SSVEPRecording


def bundle_from(recording: SSVEPRecording) -> DataBundle:
    """Wrap a recording: every trial as ``(x, target)``, x of shape (n_channels, n_times) in µV."""
    x = torch.from_numpy((recording.epochs.get_data(copy=False) * 1e6).astype(np.float32))
    y = torch.from_numpy(recording.epochs.metadata["target"].to_numpy().astype(np.int64))
    spec = DataSpec(
        input_shape=tuple(x.shape[1:]),
        n_outputs=len(recording.class_names),
        task_type="classification",
        sfreq=recording.sfreq,
        channels=tuple(recording.epochs.ch_names),
        classes=recording.class_names,
        units="uV",
        extra={"dataset": recording.name, "onset_s": recording.onset, "latency_s": recording.latency},
    )
    info = {
        "recording": recording,
        "subjects": recording.subjects,
        "blocks": recording.blocks,
    }
    return DataBundle(train=TensorDataset(x, y), val=None, test=None, spec=spec, info=info)


BENCHMARK_FILES = "a folder of S1.mat .. S35.mat (and Freq_Phase.mat)"
BETA_FILES = "a folder of S1.mat .. S70.mat"
MNE_FOLDERS = "a folder of subject folders, one recording file MNE reads per session"


class BenchmarkDataset(DatasetBase):
    """The Tsinghua SSVEP Benchmark (Wang et al. 2017) from a folder of ``S*.mat`` (+ ``Freq_Phase.mat``).

    Args:
        root: the folder.
        subjects: subject numbers to read (``None``: every ``S*.mat``).
        channels: channel names (default: the paper's 9 occipital channels).
        latency: visual latency in seconds (0.14 s).
    """

    component = "bci-ssvep.benchmark"
    expected = BENCHMARK_FILES

    def __init__(
        self,
        root: str | None = None,
        subjects: tuple[int, ...] | None = None,
        channels: tuple[str, ...] = OCCIPITAL_9,
        latency: float = BENCHMARK_LATENCY_S,
    ) -> None:
        self.root = root
        self.subjects = subjects
        self.channels = channels
        self.latency = latency

    def validate(self) -> None:
        """``root`` must be given and be a folder."""
        require_root(self.root, self.component, self.expected)

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_benchmark

        root = require_root(self.root, self.component, self.expected)
        return bundle_from(read_benchmark(root, self.subjects, self.channels, latency=self.latency))


class BetaDataset(BenchmarkDataset):
    """The BETA dataset (Liu et al. 2020) from a folder of ``S*.mat``; visual latency 0.13 s."""

    component = "bci-ssvep.beta"
    expected = BETA_FILES

    def __init__(
        self,
        root: str | None = None,
        subjects: tuple[int, ...] | None = None,
        channels: tuple[str, ...] = OCCIPITAL_9,
        latency: float = BETA_LATENCY_S,
    ) -> None:
        super().__init__(root, subjects, channels, latency)

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_beta

        root = require_root(self.root, self.component, self.expected)
        return bundle_from(read_beta(root, self.subjects, self.channels, latency=self.latency))


class SimulatedBenchmarkDataset(DatasetBase):
    """Simulated subjects written in the Benchmark layout, then read back with the Benchmark reader.

    The ``S*.mat`` files are simulated once per set of simulator parameters into the simulation cache
    (:func:`sciconv.kit.cached_simulation`, folder ``ssvep-benchmark-<key>``) and reused by later runs; the
    key covers ``n_subjects``, ``n_blocks``, ``seed``, ``snr_db``, the simulator's physics and its version,
    and with ``phase_locking="free"`` the phase model (``phase_locking``, ``phase_drift_hz`` and the drift's
    correlation time): the locked default keeps the key it had before the option existed, so its caches stay valid.

    Args:
        n_subjects: subjects to simulate.
        n_blocks: blocks per subject (6 in the Benchmark; leave-one-block-out needs 2).
        seed: simulator seed.
        snr_db: SSVEP-to-background ratio in dB (see :mod:`sciconv_bci_ssvep.ssvep_simulator`); ``None``
            keeps the simulator's default.
        channels: channels to read back.
        phase_locking: ``"locked"`` (the Benchmark: responses phase-locked to onset) or ``"free"`` (freely
            flickering LEDs: a random stimulus phase at each trial's onset and a slowly drifting frequency,
            as in the SSVEP exoskeleton data; template methods fail there). The recording is then named
            ``"simulated-benchmark-free"``.
        phase_drift_hz: with ``"free"``, the sd of the stimulus' frequency drift, Hz (unused when locked).
        cache_dir: the simulation cache's folder (``None``: ``$SCICONV_CACHE_DIR/simulations``, or
            ``~/.cache/sciconv/simulations``). About 184 MB per subject at 6 blocks.
        out_dir: no longer accepted (it kept the files of one run in a folder of its own); give
            ``cache_dir`` instead, where the files stay and are reused.
    """

    def __init__(
        self,
        n_subjects: Annotated[int, Field(ge=1)] = 8,
        n_blocks: Annotated[int, Field(ge=2)] = 6,
        seed: int = 0,
        snr_db: float | None = None,
        channels: tuple[str, ...] = OCCIPITAL_9,
        phase_locking: Literal["locked", "free"] = "locked",
        phase_drift_hz: Annotated[float, Field(ge=0)] = 0.05,
        cache_dir: str | None = None,
        out_dir: str | None = None,
    ) -> None:
        self.n_subjects = n_subjects
        self.n_blocks = n_blocks
        self.seed = seed
        self.snr_db = snr_db
        self.channels = channels
        self.phase_locking = phase_locking
        self.phase_drift_hz = phase_drift_hz
        self.cache_dir = cache_dir
        self.out_dir = out_dir

    def validate(self) -> None:
        """Refuse the retired ``out_dir`` with what to give instead, and an unknown phase model."""
        from sciconv_bci_ssvep.ssvep_simulator import DEFAULT_PHASE_DRIFT_TIME_S, _check_phase_locking

        try:
            _check_phase_locking(self.phase_locking, self.phase_drift_hz, DEFAULT_PHASE_DRIFT_TIME_S)
        except ConfigError as error:
            raise ConfigError(f"dataset.params.{error}") from None
        if self.out_dir is not None:
            raise ConfigError(
                "dataset.params.out_dir: no longer accepted; the simulated S*.mat files now go to the simulation "
                "cache, reused by later runs: give dataset.params.cache_dir=DIR to put it in DIR "
                "(the files are then in DIR/ssvep-benchmark-<key>/)"
            )

    def simulation_params(self) -> dict[str, Any]:
        """Every parameter the simulated files depend on: the cache key."""
        from sciconv_bci_ssvep.ssvep_simulator import DEFAULT_PHASE_DRIFT_TIME_S, DEFAULT_SNR_DB, SSVEPPhysics

        params: dict[str, Any] = {
            "n_subjects": self.n_subjects,
            "n_blocks": self.n_blocks,
            "n_targets": 40,
            "seed": self.seed,
            "snr_db": DEFAULT_SNR_DB if self.snr_db is None else float(self.snr_db),
            "physics": dataclasses.asdict(SSVEPPhysics()),
        }
        if self.phase_locking == "free":  # only then: the locked default keeps its key (and its caches)
            params["phase_locking"] = "free"
            params["phase_drift_hz"] = float(self.phase_drift_hz)
            params["phase_drift_time"] = DEFAULT_PHASE_DRIFT_TIME_S
        return params

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_benchmark
        from sciconv_bci_ssvep.ssvep_simulator import DEFAULT_PHASE_DRIFT_TIME_S, SIMULATOR_VERSION, simulate_benchmark

        self.validate()
        params = self.simulation_params()

        def write(folder: Path) -> None:
            simulate_benchmark(
                folder,
                n_subjects=self.n_subjects,
                seed=self.seed,
                n_blocks=self.n_blocks,
                n_targets=params["n_targets"],
                snr_db=params["snr_db"],
                phase_locking=params.get("phase_locking", "locked"),
                phase_drift_hz=params.get("phase_drift_hz", 0.0),
                phase_drift_time=params.get("phase_drift_time", DEFAULT_PHASE_DRIFT_TIME_S),
            )

        root = cached_simulation("ssvep-benchmark", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir)
        recording = read_benchmark(root, None, self.channels)
        recording.epochs.load_data()
        recording.name = "simulated-benchmark-free" if self.phase_locking == "free" else "simulated-benchmark"
        return bundle_from(recording)


class MNERecordingsDataset(DatasetBase):
    """Recordings MNE can read (FIF with events, EDF/BDF, BrainVision), one subject per sub-folder and one
    session (block) per file; defaults fit the SSVEP exoskeleton dataset (Kalunga et al. 2016).

    Unlabelled recordings (new sessions to predict with a finished run, whose targets are unknown) are read
    with ``unlabelled=true``: every trial gets target -1 (no label) and the bundle is built as for labelled
    data (same spec: channels, rate, the exoskeleton's classes), all trials in ``train`` (``--split all``
    predicts each). Trials are cut at the recordings' trial-onset events, whatever their codes (the usual
    case: a "trial start" marker without the target; ``trial_codes`` picks the onset codes among others);
    at onsets of your own written as a sibling ``<name>-eve.fif`` (:func:`mne.write_events`); or, for a
    recording without events, every ``stride`` seconds. A run refuses such data (it needs targets)::

        pipeline predict RUN_DIR dataset.params.root=NEW dataset.params.unlabelled=true

    Args:
        root: the folder holding the subjects' folders.
        tmin, tmax: epoch limits in seconds around each event.
        latency: seconds from the event to the start of the analysis windows.
        channels: channels to keep (``None``: all EEG channels).
        unlabelled: the recordings carry no targets (default false: events must carry the class codes).
        trial_codes: with ``unlabelled``, the event codes of trial onsets (``None``: every event).
        stride: with ``unlabelled``, cut each recording into epochs every ``stride`` s from its start,
            ignoring its events (``None``: at the events).
    """

    def __init__(
        self,
        root: str | None = None,
        tmin: float = 0.0,
        tmax: float = 5.0,
        latency: float = 1.0,
        channels: tuple[str, ...] | None = None,
        unlabelled: bool = False,
        trial_codes: tuple[int, ...] | None = None,
        stride: float | None = None,
    ) -> None:
        self.root = root
        self.tmin = tmin
        self.tmax = tmax
        self.latency = latency
        self.channels = channels
        self.unlabelled = unlabelled
        self.trial_codes = trial_codes
        self.stride = stride

    def validate(self) -> None:
        """``root`` must be a folder, ``tmax`` after ``tmin``; ``trial_codes`` and ``stride`` need ``unlabelled``."""
        from sciconv_bci_ssvep.mne_io import _check_unlabelled

        require_root(self.root, "bci-ssvep.mne-recordings", MNE_FOLDERS)
        if not self.tmax > self.tmin:
            raise ConfigError(f"dataset.params.tmax ({self.tmax}) must be after tmin ({self.tmin})")
        _check_unlabelled(self.unlabelled, self.trial_codes, self.stride)

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mne_io import read_mne_recordings

        recording = read_mne_recordings(
            require_root(self.root, "bci-ssvep.mne-recordings", MNE_FOLDERS),
            tmin=self.tmin,
            tmax=self.tmax,
            channels=self.channels,
            latency=self.latency,
            unlabelled=self.unlabelled,
            trial_codes=self.trial_codes,
            stride=self.stride,
        )
        return bundle_from(recording)
