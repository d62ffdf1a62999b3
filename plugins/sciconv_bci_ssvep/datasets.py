"""The SSVEP datasets as sciconv dataset components.

Each returns a :class:`~sciconv.DataBundle` whose ``train`` split holds every trial (full epochs,
microvolts) and whose ``info["recording"]`` is the :class:`SSVEPRecording` the speller task
cross-validates; ``val`` and ``test`` are ``None`` because the protocol makes its own folds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError
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


def _root(root: str | None, name: str) -> Path:
    if root is None or str(root).strip() == "":
        raise ConfigError(
            f"dataset.params.root: {name} reads a folder of recordings; give it with dataset.params.root=DIR"
        )
    return Path(root).expanduser()


class BenchmarkDataset(DatasetBase):
    """The Tsinghua SSVEP Benchmark (Wang et al. 2017) from a folder of ``S*.mat`` (+ ``Freq_Phase.mat``).

    Args:
        root: the folder.
        subjects: subject numbers to read (``None``: every ``S*.mat``).
        channels: channel names (default: the paper's 9 occipital channels).
        latency: visual latency in seconds (0.14 s).
    """

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
        _root(self.root, "ssvep.benchmark")

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_benchmark

        return bundle_from(
            read_benchmark(_root(self.root, "ssvep.benchmark"), self.subjects, self.channels, latency=self.latency)
        )


class BetaDataset(BenchmarkDataset):
    """The BETA dataset (Liu et al. 2020) from a folder of ``S*.mat``; visual latency 0.13 s."""

    def __init__(
        self,
        root: str | None = None,
        subjects: tuple[int, ...] | None = None,
        channels: tuple[str, ...] = OCCIPITAL_9,
        latency: float = BETA_LATENCY_S,
    ) -> None:
        super().__init__(root, subjects, channels, latency)

    def validate(self) -> None:
        _root(self.root, "ssvep.beta")

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_beta

        return bundle_from(
            read_beta(_root(self.root, "ssvep.beta"), self.subjects, self.channels, latency=self.latency)
        )


class SimulatedBenchmarkDataset(DatasetBase):
    """Simulated subjects written in the Benchmark layout, then read back with the Benchmark reader.

    Args:
        n_subjects: subjects to simulate.
        n_blocks: blocks per subject (6 in the Benchmark).
        seed: simulator seed.
        snr_db: SSVEP-to-background ratio in dB (see :mod:`sciconv_bci_ssvep.simulator`); ``None``
            keeps the simulator's default.
        channels: channels to read back.
        out_dir: keep the written ``S*.mat`` files here; by default they go to a temporary folder that
            is removed after reading.
    """

    def __init__(
        self,
        n_subjects: int = 8,
        n_blocks: int = 6,
        seed: int = 0,
        snr_db: float | None = None,
        channels: tuple[str, ...] = OCCIPITAL_9,
        out_dir: str | None = None,
    ) -> None:
        self.n_subjects = n_subjects
        self.n_blocks = n_blocks
        self.seed = seed
        self.snr_db = snr_db
        self.channels = channels
        self.out_dir = out_dir

    def validate(self) -> None:
        if self.n_subjects < 1:
            raise ConfigError(f"dataset.params.n_subjects: expected at least 1, got {self.n_subjects}")
        if self.n_blocks < 2:
            raise ConfigError(f"dataset.params.n_blocks: leave-one-block-out needs at least 2, got {self.n_blocks}")

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mat_io import read_benchmark
        from sciconv_bci_ssvep.simulator import simulate_benchmark

        self.validate()
        extra = {} if self.snr_db is None else {"snr_db": self.snr_db}
        if self.out_dir is not None:
            root = Path(self.out_dir)
            simulate_benchmark(root, n_subjects=self.n_subjects, seed=self.seed, n_blocks=self.n_blocks, **extra)
            recording = read_benchmark(root, None, self.channels)
        else:
            with tempfile.TemporaryDirectory(prefix="sciconv-ssvep-") as tmp:
                simulate_benchmark(
                    Path(tmp), n_subjects=self.n_subjects, seed=self.seed, n_blocks=self.n_blocks, **extra
                )
                recording = read_benchmark(Path(tmp), None, self.channels)
        recording.epochs.load_data()
        recording.name = "simulated-benchmark"
        return bundle_from(recording)


class MNERecordingsDataset(DatasetBase):
    """Recordings MNE can read (FIF with events, EDF/BDF, BrainVision), one subject per sub-folder and one
    session (block) per file; defaults fit the SSVEP exoskeleton dataset (Kalunga et al. 2016).

    Args:
        root: the folder holding the subjects' folders.
        tmin, tmax: epoch limits in seconds around each event.
        latency: seconds from the event to the start of the analysis windows.
        channels: channels to keep (``None``: all EEG channels).
    """

    def __init__(
        self,
        root: str | None = None,
        tmin: float = 0.0,
        tmax: float = 5.0,
        latency: float = 1.0,
        channels: tuple[str, ...] | None = None,
    ) -> None:
        self.root = root
        self.tmin = tmin
        self.tmax = tmax
        self.latency = latency
        self.channels = channels

    def validate(self) -> None:
        _root(self.root, "ssvep.mne-recordings")
        if not self.tmax > self.tmin:
            raise ConfigError(f"dataset.params.tmax ({self.tmax}) must be after tmin ({self.tmin})")

    def load(self) -> DataBundle:
        from sciconv_bci_ssvep.mne_io import read_mne_recordings

        recording = read_mne_recordings(
            _root(self.root, "ssvep.mne-recordings"),
            tmin=self.tmin,
            tmax=self.tmax,
            channels=self.channels,
            latency=self.latency,
        )
        return bundle_from(recording)
