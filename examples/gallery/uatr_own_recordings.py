"""Recognising ship classes in your own hydrophone recordings with your own network.

A sonar analyst has WAV recordings of passing ships, sorted by class in the DeepShip layout
(``<Class>/<id>.wav`` with a ``<class>-metafile`` naming the ship of each passage), and wants a classifier that
never hears the same ship in training and test. Here the recordings are simulated ship passages (3 ships per
class, one 6 s passage each, 16 kHz PCM_16) written by the plugin's simulator into that layout; the
``uatr-deepship`` pipeline cuts them into 2 s Mel spectrograms and compares a small CNN of our own with a
mixture-of-experts head against the classical LOFAR + DEMON + MFCC classifier, in 3-fold cross-validation
grouped by ship, 4 epochs. The trained run then labels new recordings. About 15 s on 2 CPU cores.

Run: python examples/gallery/uatr_own_recordings.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files, no display needed

import matplotlib.pyplot as plt
import numpy as np
import scipy.signal
import soundfile as sf
import torch
from torch import nn

import sciconv
from sciconv_uatr.models.cmoe import MixtureOfExpertsHead
from sciconv_uatr.ship_noise_simulator import simulate_deepship

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)


# %%
# Your data, in your field's format: a DeepShip-style folder of WAV recordings, one folder per class, and per
# class a headerless CSV metafile (row = recording id, AIS type, ship name, date, time, ...). The simulator writes
# propeller cavitation modulated at the blade rate, machinery tonals, propagation past a hydrophone and Wenz
# ambient noise. Your own folder is read the same way: dataset.params.root=/data/DeepShip.
root = OUT / "data" / "DeepShip"
simulate_deepship(root, ships_per_class=3, recordings_per_ship=1, duration_s=6.0, seed=0)
example = root / "Cargo" / "1.wav"
info = sf.info(example)
print(f"{example.relative_to(OUT)}: {info.samplerate} Hz, {info.channels} channel, {info.subtype}, {info.duration} s")
print("metafile line:", (root / "Cargo" / "cargo-metafile").read_text().splitlines()[0])

pipe = sciconv.load_pipeline(
    "uatr-deepship",
    {
        "dataset.params.root": str(root),
        "dataset.params.segment_s": 2.0,  # spectrogram segments of 2 s every 1 s
        "dataset.params.hop_s": 1.0,
        "dataset.params.n_bands": 32,  # Mel bands from 10 Hz to 8 kHz
        "task.params.methods": ["cmoe", "classical"],  # "cmoe" is the pipeline's network: ours below
        "task.params.n_folds": 3,  # folds grouped by ship (the metafile names each passage's ship)
        "train.epochs": 4,
        "train.batch_size": 8,
        "train.progress": False,
    },
)


# %%
# Your network: the model gets (B, 1, bands, frames) log-Mel spectrograms, standardised per band, and returns
# (B, n_classes) logits. Ours is two convolution layers and an average over time (ship lines are steady over
# 2 s), ending in the plugin's mixture-of-experts head (a router picks one linear expert per segment). A model
# that gives the chosen expert of each segment through forward_with_routes gets the routing tables and plot in
# the report (a plain classifier is scored as one, without them); the engine adds the head's balance loss
# (auxiliary_loss) to the cross-entropy.
class MyNet(nn.Module):
    def __init__(self, spec: sciconv.DataSpec, width: int = 16, experts: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, (5, 3), padding=(2, 1)),  # 5 bands x 3 frames: lines and their harmonics
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.head = MixtureOfExpertsHead(2 * width, spec.n_outputs, experts=experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=3).amax(dim=2)  # mean over time, strongest band
        return self.head(h)

    def forward_with_routes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.forward(x)
        return logits, self.head.last_route

    def auxiliary_loss(self) -> torch.Tensor | None:
        return self.head.last_balance_loss


pipe.model = MyNet
pipe.config.model.params = {"width": 16, "experts": 4}


# %%
# Run: for each fold, train our network and the classical classifier on the training ships, test on the others.
result = pipe.run(run_dir=OUT / "run")


# %%
# Read the metrics, means over the folds (chance is 0.25 with four balanced classes): acc is the share of 2 s
# segments classified right, recording_acc that of whole passages by majority vote of their segments,
# routing_ami_class how much the chosen expert says about the class (0: nothing). With 8 training ships a fold and
# 4 epochs the numbers are noisy; the report (report.md in the run folder) has the confusion matrices.
m = result.metrics
for method, name in (("cmoe", "MyNet"), ("classical", "classical")):
    print(
        f"{name:>9}: segment acc {m[f'{method}.acc']:.2f} ± {m[f'{method}.acc_sd']:.2f}, "
        f"macro-F1 {m[f'{method}.macro_f1']:.2f}, recording acc {m[f'{method}.recording_acc']:.2f}"
    )
print(f"MyNet routing AMI with class {m['cmoe.routing_ami_class']:.2f}; report: {result.run_dir / 'report.md'}")


# %%
# One plot: the averaged spectrum of one passage per class (Welch, 0.5 s windows), where a sonar analyst reads
# the cavitation hump, the tonal lines and the Lloyd's-mirror fringes, in dB re 1 µPa²/Hz (the simulated
# recording chain puts full scale at 170 dB re 1 µPa; use your hydrophone's calibration), and each class's
# recall for our network and the classical classifier.
classes = sorted({key.split(".")[2] for key in m if key.startswith("cmoe.recall.")})
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for name in classes:
    signal, rate = sf.read(root / name / "1.wav")
    f, psd = scipy.signal.welch(signal, fs=rate, nperseg=8192)
    ax1.semilogx(f[1:], 10 * np.log10(psd[1:]) + 170.0, lw=0.8, label=name)
ax1.set(xlim=(10, rate / 2), xlabel="frequency (Hz)", ylabel="PSD (dB re 1 µPa²/Hz)", title="One passage per class")
ax1.legend(fontsize=8)
width = 0.4
x = np.arange(len(classes))
ax2.bar(x - width / 2, [m[f"cmoe.recall.{c}"] for c in classes], width, label="MyNet + experts")
ax2.bar(x + width / 2, [m[f"classical.recall.{c}"] for c in classes], width, label="classical")
ax2.axhline(0.25, color="grey", ls="--", lw=1, label="chance")
ax2.set(xticks=x, xticklabels=classes, ylim=(0, 1), ylabel="recall (test segments)", title="Recall per class")
ax2.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "uatr_own_recordings.png", dpi=100)
plt.close(fig)


# %%
# New data: recordings of ships the run never heard (another seed), in the same layout, labelled so that the
# run's accuracy on them is measured. Every recording is labelled by the models of the run's last fold, with the
# run's own band standardisation; nothing is trained. Recordings without labels: any folder of WAVs with
# dataset.params.unlabelled=true (then no metrics).
new_root = OUT / "new_data" / "DeepShip"
simulate_deepship(new_root, ships_per_class=1, recordings_per_ship=1, duration_s=6.0, seed=1)
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root)}, out=OUT / "predictions", model=MyNet
)
print(prediction.tables["recordings"][["recording_id", "label", "n_segments", "cmoe", "classical"]].head())
print({k: round(v, 2) for k, v in prediction.metrics.items()})
