"""Classify your own SSVEP recordings: MNE Raw files with annotations, your own network beside FBCCA and TRCA.

An SSVEP lab records a few sessions per participant: LEDs flicker at 13, 17 and 21 Hz (plus a rest
condition), a cue marks each 5-s trial, and the question is which stimulus the participant looked at. Here
each session is an MNE ``Raw`` with one annotation per cue, saved as ``<subject>/<session>_raw.fif`` (any
format MNE reads works: EDF/BDF, BrainVision); the plugin's ``bci-ssvep.mne-recordings`` dataset reads the
folder, one session per file, one sub-folder per participant. A small spatial-spectral network of your own
replaces the paper's DNN; the task trains it across sessions (train on session 1, test on session 2) beside
FBCCA and (ensemble) TRCA.
Settings: 2 participants x 2 sessions x 16 trials, 8 channels at 250 Hz, T = 2 s windows, 8 training crops,
20 + 10 epochs (stage 1 + stage 2); about 15 s on 2 CPU cores.

Run: python examples/gallery/bci_ssvep_own_eeg.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mne
import numpy as np
import torch
from torch import nn

import sciconv
from sciconv_bci_ssvep.recording import BENCHMARK_CHANNELS, BENCHMARK_ONSET_S, BENCHMARK_SFREQ
from sciconv_bci_ssvep.ssvep_simulator import simulate_subject

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)

# %%
# Your data, in your field's format
# ---------------------------------
# The dataset's defaults are those of the SSVEP exoskeleton experiment (Kalunga et al. 2016): classes
# "rest", "13 Hz", "17 Hz", "21 Hz" (event codes 1, 2, 4, 3), 5-s trials after the cue, 8 occipital channels.
# Your annotations must carry these class names (or end in these codes, as BrainVision's "Stimulus/S  2" does):
# the dataset takes no event_id or stimulus frequencies of its own yet, so other paradigms cannot be read as such.
#
# We make "your" recordings: realistic background EEG (1/f activity, an alpha rhythm, line and sensor noise)
# from the plugin's simulator, and on top of it the SSVEP of freely flickering LEDs: the stimulus frequency and
# its 2nd harmonic, strongest over O1/Oz/O2, with a random phase at each cue (LEDs are not synchronised to the
# cue, so responses are not phase-locked: that is why this pipeline's network reads spectra, not waveforms).
CHANNELS = ["Oz", "O1", "O2", "PO3", "POz", "PO7", "PO8", "PO4"]  # the exoskeleton montage
CLASSES = {"rest": np.nan, "13 Hz": 13.0, "17 Hz": 17.0, "21 Hz": 21.0}
SSVEP_UV = np.array([1.6, 1.8, 1.8, 1.0, 1.2, 0.9, 0.9, 1.0])  # fundamental amplitude per channel, µV
TRIALS_PER_SESSION = 16  # 4 per class, in random order
SFREQ = BENCHMARK_SFREQ  # 250 Hz


def record_sessions(participant: int, n_sessions: int, seed: int) -> list[mne.io.RawArray]:
    """Continuous recordings (volts, with annotations) of one participant: each trial is a 6-s segment of
    background EEG with the cue 0.5 s in and the flicker response during the 5 s after it."""
    rng = np.random.default_rng([seed, participant])
    background = simulate_subject(
        participant, seed=seed, n_blocks=n_sessions, n_targets=TRIALS_PER_SESSION, snr_db=-np.inf
    ).data  # µV, [64 channels, 1500 samples, trials, sessions]
    picks = [BENCHMARK_CHANNELS.index(c.upper()) for c in CHANNELS]
    t = np.arange(background.shape[1]) / SFREQ - BENCHMARK_ONSET_S  # s from the cue
    response = (t > 0.14) & (t < 5.0)  # after a visual latency of 140 ms, until the LEDs stop
    sessions = []
    for session in range(n_sessions):
        labels = rng.permutation(np.repeat(list(CLASSES), TRIALS_PER_SESSION // len(CLASSES)))
        segments = []
        for trial, label in enumerate(labels):
            x = background[picks, :, trial, session].astype(float)
            f = CLASSES[label]
            if np.isfinite(f):
                phase = rng.uniform(0, 2 * np.pi)
                wave = np.cos(2 * np.pi * f * t + phase) + 0.4 * np.cos(4 * np.pi * f * t + 2 * phase)
                x += SSVEP_UV[:, None] * rng.lognormal(0, 0.2) * wave * response
            segments.append(x)
        raw = mne.io.RawArray(np.concatenate(segments, axis=1) * 1e-6, mne.create_info(CHANNELS, SFREQ, "eeg"))
        raw.set_montage("standard_1005")
        segment_s = background.shape[1] / SFREQ
        cues = BENCHMARK_ONSET_S + segment_s * np.arange(len(labels))
        raw.set_annotations(mne.Annotations(onset=cues, duration=5.0, description=labels))
        sessions.append(raw)
    return sessions


mne.set_log_level("ERROR")
data_root, new_root = OUT / "data", OUT / "new_data"
for participant in (1, 2):
    *known, later = record_sessions(participant, n_sessions=3, seed=7)
    for session, raw in enumerate(known, start=1):  # the sessions you have now
        folder = data_root / f"sub-{participant:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        raw.save(folder / f"sub-{participant:02d}_ses-{session:02d}_raw.fif", overwrite=True)
    folder = new_root / f"sub-{participant:02d}"  # a third session, recorded later (used at the end)
    folder.mkdir(parents=True, exist_ok=True)
    later.save(folder / f"sub-{participant:02d}_ses-03_raw.fif", overwrite=True)
print(f"your recordings: {sorted(p.relative_to(data_root).as_posix() for p in data_root.rglob('*.fif'))}")
print(f"each: {known[0]}, {known[0].annotations}")

# bci-ssvep-exo reads them: the cue is the epoch's start (tmin 0, tmax 5 s) and windows start 1 s after it. The
# overrides make the run small: one window length, one fold, few epochs (the pipeline: T = 1, 2, 3 s, both folds,
# 150 + 150 epochs at lr 1e-4), and a last dropout of 0.5 for our network (the paper's DNN uses 0.95 there).
pipe = sciconv.load_pipeline(
    "bci-ssvep-exo",
    {
        "dataset.params.root": str(data_root),
        "task.params.windows": [2.0],
        "task.params.test_blocks": [1],  # train on session 1, test on session 2
        "task.params.stage2_epochs": 10,
        "task.params.stage1_dropout": [0.1, 0.1, 0.5],
        "train.epochs": 20,
        "train.lr": 0.001,
        "train.progress": False,
        "parallel.n_jobs": 1,
    },
)


# %%
# Your network
# ------------
# The task gives the network each trial's filter-bank sub-bands as the z-scored log magnitude spectrum of every
# channel (5-70 Hz, 0.5-Hz bins): input (batch, n_subbands, n_channels, n_freqs); it must return one logit per
# class, (batch, n_classes). The task also passes `dropout` (three probabilities, task.params.stage1_dropout) and,
# for the per-participant fine-tuning of stage 2, calls `set_dropout` if the network has one.
class SpatialSpectralNet(nn.Module):
    """Learnt spatial filters over the channels, then a small convolution along frequency (peaks and their
    harmonics), then a linear read-out."""

    def __init__(
        self,
        n_subbands: int,
        n_channels: int,
        n_freqs: int,
        n_classes: int,
        n_spatial: int,
        n_spectral: int,
        dropout: tuple[float, float, float],
    ) -> None:
        super().__init__()
        self.spatial = nn.Conv2d(n_subbands, n_spatial, kernel_size=(n_channels, 1))
        self.spectral = nn.Conv2d(n_spatial, n_spectral, kernel_size=(1, 5), padding=(0, 2))
        self.drops = nn.ModuleList(nn.Dropout(p) for p in dropout)
        self.readout = nn.Linear(n_spectral * n_freqs, n_classes)

    def set_dropout(self, first: float, second: float, third: float | None = None) -> None:
        for drop, p in zip(self.drops, (first, second, third), strict=True):
            if p is not None:
                drop.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drops[0](nn.functional.elu(self.spatial(x)))
        h = self.drops[1](nn.functional.elu(self.spectral(h)))
        return self.readout(self.drops[2](h.flatten(1)))


def MyNet(
    spec: sciconv.DataSpec,
    n_spatial: int = 4,
    n_spectral: int = 8,
    dropout: tuple[float, float, float] = (0.1, 0.1, 0.5),
) -> nn.Module:
    """Sized from the DataSpec: spec.input_shape = (n_subbands, n_channels, n_freqs), spec.n_outputs classes."""
    return SpatialSpectralNet(*spec.input_shape, spec.n_outputs, n_spatial, n_spectral, tuple(dropout))


pipe.model = MyNet
pipe.config.model.params = {"n_spatial": 4, "n_spectral": 8}

# %%
# Run
# ---
# Stage 1 trains one network on both participants' session 1; stage 2 fine-tunes a copy per participant; both,
# FBCCA (training-free) and TRCA / ensemble TRCA (templates from session 1) classify session 2.
result = pipe.run(run_dir=OUT / "run")

# %%
# Read the metrics
# ----------------
# Accuracy (fraction of trials, chance 0.25 with 4 classes) and information transfer rate (Wolpaw, bits/min,
# counting T + 0.5 s per selection), mean over participants. itpc.* is the phase-locking diagnostic: inter-trial
# phase coherence at the stimulus frequencies against nearby ones (no higher here: the responses are not
# phase-locked, so TRCA's templates cannot work). Keys end in the window: "@2" for T = 2 s. The run folder's
# report.md has the same numbers, per participant too, and the plots.
m = result.metrics
methods = {"dnn": "MyNet (stage 1 + 2)", "dnn_stage1": "MyNet, stage 1", "fbcca": "FBCCA", "etrca": "ensemble TRCA"}
for key, name in methods.items():
    print(f"{name:>20}: accuracy {m[f'{key}.acc@2']:.2f}, ITR {m[f'{key}.itr@2']:5.1f} bits/min")
print(f"ITPC at the stimulus frequencies {m['itpc.stimulus']:.2f}, nearby {m['itpc.neighbours']:.2f}")
print(f"report: {result.run_dir / 'report.md'}")

# %%
# One plot
# --------
# Left: what an SSVEP researcher checks first, the mean amplitude spectrum over O1/Oz/O2 per class during the
# flicker (peaks at the stimulus frequency and its harmonic). Right: accuracy of each method on session 2.
raw = mne.io.read_raw_fif(data_root / "sub-01" / "sub-01_ses-01_raw.fif", preload=True)
events, event_id = mne.events_from_annotations(raw)
epochs = mne.Epochs(raw, events, event_id, tmin=1.0, tmax=5.0, baseline=None, picks=["O1", "Oz", "O2"])
fig, (ax_psd, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=[3, 2])
for label in CLASSES:
    spectrum = epochs[label].compute_psd(method="welch", fmin=5, fmax=45, n_fft=500)
    amplitude = np.sqrt(spectrum.get_data().mean(axis=(0, 1))) * 1e6
    ax_psd.semilogy(spectrum.freqs, amplitude, label=label)
ax_psd.set(xlabel="frequency (Hz)", ylabel="amplitude (µV/√Hz)", title="sub-01, session 1, O1/Oz/O2")
ax_psd.legend()
ax_acc.barh(list(methods.values()), [m[f"{key}.acc@2"] for key in methods], color="C0")
ax_acc.axvline(0.25, color="k", ls="--", lw=1, label="chance")
ax_acc.set(xlim=(0, 1), xlabel="accuracy on session 2 (T = 2 s)")
ax_acc.legend(loc="lower right")
fig.tight_layout()
fig.savefig(OUT / "bci_ssvep_own_eeg.png", dpi=100)
plt.close(fig)

# %%
# New data
# --------
# A third session of both participants arrives. The finished run classifies its trials with the models of its
# last fold: each participant's fine-tuned network, FBCCA and the TRCA templates (model=MyNet because the
# network was defined in this script, so the run's config.yaml cannot name it). Sessions without targets are
# read with "dataset.params.unlabelled": True (every cue is then a trial onset, and no accuracy is computed).
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root)}, out=OUT / "predictions", model=MyNet
)
table = prediction.tables["predictions"]  # one row per trial; class indices in target, dnn@2, fbcca@2, ...
shown = table[["subject", "target", "dnn@2", "fbcca@2", "etrca@2"]].head(6)
print(shown.set_index("subject").apply(lambda column: column.map(dict(enumerate(CLASSES)))).to_string())
print("accuracy on session 3:", {k: round(v, 2) for k, v in prediction.metrics.items() if ".acc@" in k})
