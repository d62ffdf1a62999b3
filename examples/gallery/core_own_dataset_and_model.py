"""Your own recordings and your own network in a sciconv pipeline (the core, with the demo-signal pipeline).

An electrophysiologist has multichannel trials as numpy arrays (trials x channels x samples, in µV, one stimulus
frequency per trial, like an SSVEP or a rhythm-entrainment experiment) and wants to know whether a small
convolutional network tells the frequencies apart better than a spectral-peak detector. The trials are saved as
``.npz`` files (``signals``, ``labels``, ``sfreq``, ``ch_names``, ``stim_freqs``), read by a dataset class written
in this script (``load()`` returning a ``sciconv.DataBundle`` with a ``sciconv.DataSpec``), and classified by a
network written in this script, in the demo-signal pipeline's task (training with early stopping, test accuracy
beside two baselines). Settings: 4 channels at 128 Hz, 2 s trials, 4 frequencies, 320 trials in session 1 and
80 in session 2, a shallow filter-bank network, 15 epochs, one torch thread; about 7 s of CPU time.

Run: python examples/gallery/core_own_dataset_and_model.py [OUT_DIR]
(default OUT_DIR gallery-output/core_own_dataset_and_model/<time>)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

import sciconv
from sciconv_demo.oscillation_simulator import simulate_oscillations

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)
# The networks here are small (8 filters, 4 channels): one CPU thread runs them fastest; more threads
# spend their time synchronising over tiny tensors (many times over on a machine shared with other jobs).
torch.set_num_threads(1)

# %%
# 1. Your recordings, as numpy arrays
# -----------------------------------
# Stand-in for your own recordings: the demo's simulator gives 400 trials of a rhythm at one of four frequencies
# buried in 1/f background activity and mains noise, at -10 dB. We save them as two sessions, the way epoched
# trials are often kept: one .npz per session with the trials, their labels and the recording's metadata.
SFREQ, STIM_FREQS, CH_NAMES = 128.0, (6.0, 9.0, 12.0, 15.0), ("O1", "Oz", "O2", "Pz")
signals, labels = simulate_oscillations(
    n_trials=400,
    n_chans=4,
    sfreq=SFREQ,
    duration=2.0,
    freqs=STIM_FREQS,
    snr_db=-10.0,
    alpha=1.0,
    line_freq=50.0,
    seed=0,
)
for name, trials in (("session1", slice(0, 320)), ("session2", slice(320, 400))):
    folder = OUT / ("data" if name == "session1" else "new_data")
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / f"{name}.npz",
        signals=signals[trials],  # (n_trials, n_channels, n_samples), µV
        labels=labels[trials],  # index into stim_freqs
        sfreq=SFREQ,
        ch_names=np.array(CH_NAMES),
        stim_freqs=np.array(STIM_FREQS),
    )
print(f"session 1: {signals[:320].shape} trials x channels x samples at {SFREQ:g} Hz")


# Your dataset: a class whose __init__ stores its parameters and whose load() returns the splits and the spec.
# The DataSpec tells a network how to size itself (channels, samples, sampling rate, classes); the task's baselines
# read the stimulus frequencies from spec.extra["freqs"]. The split is chronological (first 60 % of the trials to
# train, next 20 % to validate, last 20 % to test), so slow drifts within a session do not leak into the test.
class MyRecordings(sciconv.DatasetBase):
    """Trials of one ``.npz`` session file; ``val`` and ``test`` are the fractions of trials held out at the end
    (both 0 for new data to predict). Items: ``x`` float32 (channels, samples) in µV, ``y`` the class index (-1
    where the file has no labels)."""

    def __init__(self, path: str, val: float = 0.2, test: float = 0.2) -> None:
        self.path = path
        self.val = val
        self.test = test

    def load(self) -> sciconv.DataBundle:
        with np.load(self.path, allow_pickle=False) as f:
            x = f["signals"].astype(np.float32)
            y = f["labels"].astype(np.int64) if "labels" in f.files else np.full(len(x), -1, dtype=np.int64)
            sfreq, channels, freqs = float(f["sfreq"]), [str(c) for c in f["ch_names"]], f["stim_freqs"].tolist()
        if x.ndim != 3 or x.shape[1] != len(channels):
            raise sciconv.DataError(
                f"{self.path}: signals has shape {x.shape}; expected (trials, {len(channels)} channels, samples)"
            )
        n_train = round(len(x) * (1 - self.val - self.test))
        n_val = round(len(x) * self.val)
        parts = [slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, len(x))]
        train, val, test = (TensorDataset(torch.from_numpy(x[p]), torch.from_numpy(y[p])) for p in parts)
        spec = sciconv.DataSpec(
            input_shape=x.shape[1:],
            n_outputs=len(freqs),
            task_type="classification",
            sfreq=sfreq,
            channels=tuple(channels),
            classes=tuple(f"{f:g} Hz" for f in freqs),
            units="uV",
            extra={"freqs": freqs},
        )
        return sciconv.DataBundle(train=train, val=val, test=test, spec=spec)


# The demo-signal pipeline gives the task (classification, early stopping on validation accuracy, test accuracy
# beside a spectral-peak detector and a nearest-centroid classifier on log power spectra) and the training
# settings; your dataset object replaces its simulated one.
pipe = sciconv.load_pipeline("demo-signal", {"train.epochs": 15, "train.progress": False})
pipe.dataset = MyRecordings(str(OUT / "data" / "session1.npz"))


# %%
# 2. Your network
# ---------------
# The task gives the network batches of trials (batch, channels, samples) and expects class scores (batch,
# n_classes). A shallow filter-bank network, in the spirit of ShallowConvNet: temporal filters learned per
# channel, a spatial filter mixing the channels, then the log of the mean power in each filtered signal: a
# learned band-power classifier, which is what telling oscillation frequencies apart needs.
class MyNet(nn.Module):
    """Temporal conv -> spatial conv -> log mean power -> linear. Shapes: (B, C, T) -> (B, n_classes)."""

    def __init__(self, spec: sciconv.DataSpec, n_filters: int = 8, filter_s: float = 0.5) -> None:
        super().__init__()
        length = int(filter_s * spec.sfreq) | 1  # an odd number of samples
        self.temporal = nn.Conv2d(1, n_filters, (1, length), padding=(0, length // 2), bias=False)
        self.spatial = nn.Conv2d(n_filters, n_filters, (spec.n_chans, 1), bias=False)
        self.norm = nn.BatchNorm2d(n_filters)
        self.readout = nn.Linear(n_filters, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.spatial(self.temporal(x.unsqueeze(1))))  # (B, F, 1, T)
        return self.readout(torch.log(h.pow(2).mean(dim=(2, 3)) + 1e-6))


pipe.model = MyNet
pipe.config.model.params = {"n_filters": 8, "filter_s": 0.5}

# %%
# 3. Run
# ------
# Trains on the first 60 % of session 1, keeps the epoch with the best validation accuracy, tests on the last 20 %.
result = pipe.run(run_dir=OUT / "run")

# %%
# 4. Read the metrics
# -------------------
# test.accuracy is the fraction of held-out trials whose frequency your network got right; the baselines are
# scored on the same trials: the spectral-peak detector needs no training, the nearest-centroid classifier is
# fitted on the training trials' log power spectra. chance is 1 / number of frequencies. The run's report.md
# has the table and the training curves.
for key in ("test.accuracy", "baseline.spectral_peak.accuracy", "baseline.nearest_centroid.accuracy", "chance"):
    print(f"{key:36s} {result.metrics[key]:.3f}")
print(f"report: {result.run_dir / 'report.md'}")

# %%
# 5. One plot
# -----------
# Left: the confusion matrix of the test trials. Right: what the network listens to, the frequency response of its
# learned temporal filters, with the stimulus frequencies marked.
bundle = pipe.dataset.load()
x_test, y_test = bundle.test.tensors
model = result.model.eval()
with torch.no_grad():
    predicted = model(x_test).argmax(dim=1).numpy()
n = len(STIM_FREQS)
confusion = np.zeros((n, n), dtype=int)
np.add.at(confusion, (y_test.numpy(), predicted), 1)
fig, (ax_cm, ax_f) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax_cm.imshow(confusion, cmap="Blues")
for (i, j), count in np.ndenumerate(confusion):
    ax_cm.text(j, i, str(count), ha="center", va="center", color="white" if count > confusion.max() / 2 else "black")
ticks = [f"{f:g} Hz" for f in STIM_FREQS]
ax_cm.set(xticks=range(n), yticks=range(n), xticklabels=ticks, yticklabels=ticks, xlabel="predicted", ylabel="true")
ax_cm.set_title(f"test trials, accuracy {result.metrics['test.accuracy']:.2f}")
kernels = model.temporal.weight.detach().numpy()[:, 0, 0]  # (n_filters, length)
freqs = np.fft.rfftfreq(512, d=1 / SFREQ)
gain = np.abs(np.fft.rfft(kernels, n=512, axis=1))
ax_f.plot(freqs, gain.T / gain.max(), lw=1)
for f in STIM_FREQS:
    ax_f.axvline(f, color="k", ls=":", lw=0.8)
ax_f.set(xlim=(0, 40), xlabel="frequency (Hz)", ylabel="gain (normalised)", title="learned temporal filters")
fig.savefig(OUT / "core_own_dataset_and_model.png", dpi=120)
print(f"figure: {OUT / 'core_own_dataset_and_model.png'}")

# %%
# 6. New data
# -----------
# Session 2, recorded later: the same class pointed at the new file, with nothing held out, is handed to the
# finished run. The run checks that the new trials fit what it trained on (channels, sampling rate, trial length,
# classes), applies the trained network and the fitted baselines, and writes predictions.csv (one row per trial)
# and, since session 2 has labels, metrics.json. A session without labels (no "labels" array) gets predictions only.
new_session = MyRecordings(str(OUT / "new_data" / "session2.npz"), val=0.0, test=0.0)
prediction = sciconv.load_run(result.run_dir).predict(new_session, out=OUT / "predictions", model=MyNet)
print(prediction.tables["predictions"][["sample", "predicted", "label", "spectral_peak"]].head().to_string(index=False))
print(f"session 2 accuracy: {prediction.metrics['all.accuracy']:.3f}")
print(f"predictions: {OUT / 'predictions'}")
