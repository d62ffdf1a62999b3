"""Staged multi-omics diagnosis of Alzheimer's disease on your own cohort (SGUQ on MOGONET).

A multi-omics researcher has mRNA expression, DNA methylation and miRNA profiles of brain tissue for a cohort
of donors with a diagnosis (AD or normal control) and wants a classifier that asks for the second and third omics
only when the first leaves it uncertain. Here the cohort is written as CSV files in MOGONET's layout (the
preprocessed ROSMAP folder: ``1_tr.csv``, ``1_te.csv``, ``1_featname.csv``, ..., ``labels_tr.csv``), the new
donors as a MuData ``.h5mu`` file. Settings: 120 training / 40 test donors, 50 features per omics, ensembles of 4
small MOGONETs per stage, 30 + 120 full-batch epochs, thresholds chosen on a validation split (mode
``validation``); about 8 s on 2 CPU cores.

Run: python examples/gallery/omics_sguq_own_cohort.py [OUT_DIR]
(default OUT_DIR: a new gallery-output/omics_sguq_own_cohort/<time>)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import anndata as ad
import matplotlib.pyplot as plt
import mudata as md
import numpy as np
import pandas as pd

import sciconv
from sciconv_omics_sguq.cohort_simulator import simulate_cohort

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)
OMICS = ("mrna", "meth", "mirna")  # omics 1, 2, 3 of the folder, ROSMAP's order
md.set_options(pull_on_update=False)  # MuData's coming default (and no FutureWarning on every update)

# %%
# 1. Your cohort, in MOGONET's CSV layout
# ---------------------------------------
# Stand-in for your own preprocessed matrices: a simulated brain-tissue cohort (mRNA, methylation beta values,
# miRNA, each scaled to [0, 1] as in MOGONET's ROSMAP folder) with its diagnoses (0 = NC, 1 = AD). Your data
# would be pandas DataFrames of donors x features; MOGONET's layout is one headerless CSV per omics and split,
# rows matching line by line across files, plus the feature names and the labels.
cohort = simulate_cohort(n_train=120, n_test=70, n_features=50, seed=0)
donors, split = cohort.obs_names, cohort.obs["split"].astype(str).to_numpy()
train, test = donors[split == "train"], donors[split == "test"][:40]
later = donors[split == "test"][40:]  # 30 donors of the same population, kept for step 6
root = OUT / "data" / "my_cohort"
root.mkdir(parents=True, exist_ok=True)
for i, omics in enumerate(OMICS, start=1):
    values = cohort.mod[omics].to_df()  # donors x features, values in [0, 1]
    values.loc[train].to_csv(root / f"{i}_tr.csv", header=False, index=False)
    values.loc[test].to_csv(root / f"{i}_te.csv", header=False, index=False)
    pd.Series(values.columns).to_csv(root / f"{i}_featname.csv", header=False, index=False)
diagnosis = cohort.obs["label"].astype(float)  # 0.0 NC, 1.0 AD, as in ROSMAP's labels files
diagnosis.loc[train].to_csv(root / "labels_tr.csv", header=False, index=False)
diagnosis.loc[test].to_csv(root / "labels_te.csv", header=False, index=False)
print(f"cohort {root}: {', '.join(sorted(p.name for p in root.iterdir()))}")
print(f"  {len(train)} training and {len(test)} test donors, {values.shape[1]} features per omics")

# The pipeline for your own folder is omics-sguq-rosmap (the published protocol on ROSMAP's layout); its dataset,
# omics-sguq.mogonet-layout, reads the folder with the plugin's reader and names the classes. The overrides
# shorten the protocol so this example runs in seconds: thresholds chosen on a validation split carved from the
# training donors (mode validation, instead of the 5-fold out-of-fold default), 4 members per stage, 30 + 120
# epochs at 4x the published learning rates, the fixed split only.
pipe = sciconv.load_pipeline(
    "omics-sguq-rosmap",
    {
        "dataset.params.root": str(root),
        "dataset.params.class_names": ["NC", "AD"],
        "task.params.mode": "validation",
        "task.params.n_models": 4,
        "task.params.n_splits": 0,
        "task.params.epochs_pretrain": 30,
        "task.params.epochs": 120,
        "task.params.lr_pretrain": 0.004,
        "task.params.lr_gcn": 0.002,
        "task.params.lr_vcdn": 0.004,
        "parallel.n_jobs": 1,
        "train.progress": False,
    },
)

# %%
# 2. Your network: a MOGONET sized for your cohort
# ------------------------------------------------
# SGUQ's staged task trains MOGONET itself, with MOGONET's own full-batch schedule over patient similarity
# graphs, and reads its parts (one graph convolution network per omics, the VCDN that fuses them), so another
# nn.Module cannot take its place here. What you change is the component: smaller graph convolutions for 120
# donors and 50 features (the published 200/200/100 fit 245 donors and 200 features), 3 neighbours per donor in
# each omics' patient graph instead of 2, and the VCDN reading each omics' output as probabilities (softmax).
pipe.config.model.params = {"hidden": [32, 32, 16], "dropout": 0.5, "k": 3, "vcdn_input": "softmax"}

# %%
# 3. Run
# ------
# Trains an ensemble per stage (mRNA; mRNA + methylation; all three), chooses the uncertainty thresholds on the
# validation donors and classifies the test donors stage by stage. Everything lands in OUT/run.
result = pipe.run(run_dir=OUT / "run")

# %%
# 4. Read the metrics
# -------------------
# staged_acc is the accuracy when each test donor is decided at the first stage certain enough;
# decided_stage1 is the share decided on mRNA alone, tests_saved the share of omics assays not needed;
# stage3_acc is the full-omics ensemble on every donor and mogonet_single_acc a single MOGONET, for comparison.
m = result.metrics
print(f"staged accuracy {m['staged_acc']:.3f} (AUC {m['staged_auc']:.3f}); full-omics ensemble {m['stage3_acc']:.3f}")
print(f"single MOGONET {m['mogonet_single_acc']:.3f}")
print(f"decided on mRNA alone: {m['decided_stage1']:.0%}; omics assays saved: {m['tests_saved']:.0%}")
print(f"the full report, beside the published numbers: {result.run_dir / 'report.md'}")

# %%
# 5. One plot: what staging buys
# ------------------------------
# Accuracy of each stage's ensemble on every test donor, beside the staged decision, and the share of donors
# that needed each omics: the trade-off SGUQ is about.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
names = ["mRNA", "+ meth", "+ miRNA", "staged"]
accs = [m["stage1_acc"], m["stage2_acc"], m["stage3_acc"], m["staged_acc"]]
ax1.bar(names, accs, color=["C0", "C0", "C0", "C3"])
ax1.axhline(m["mogonet_single_acc"], color="k", ls="--", lw=1, label="single MOGONET")
ax1.set_ylim(0.4, 1.0)
ax1.set_ylabel("test accuracy")
ax1.legend(loc="lower right", fontsize=8)
decided = [m["decided_stage1"], m["decided_stage2"], m["decided_stage3"]]
needed = [1.0, 1.0 - decided[0], 1.0 - decided[0] - decided[1]]
ax2.bar(["mRNA", "methylation", "miRNA"], needed, color="C2")
ax2.set_ylim(0, 1.05)
ax2.set_ylabel("share of test donors assayed")
fig.suptitle("SGUQ on your cohort: accuracy and omics assays needed")
fig.tight_layout()
fig.savefig(OUT / "omics_sguq_own_cohort.png", dpi=120)
plt.close(fig)

# %%
# 6. New donors, as a MuData .h5mu file
# -------------------------------------
# New donors come without a diagnosis, and here a third of them had no miRNA assay. A MuData holds one AnnData
# per omics (donors x features); a donor missing an omics is simply absent from that AnnData. The staged model
# joins them to the training donors' graphs and decides each at the first stage it is certain enough.
ids = {donor: f"new{k:03d}" for k, donor in enumerate(later)}  # your own donor ids
no_mirna = set(later[::3])
new_mdata = md.MuData(
    {
        omics: ad.AnnData(
            cohort.mod[omics].to_df().loc[[d for d in later if omics != "mirna" or d not in no_mirna]].rename(ids)
        )
        for omics in OMICS
    }
)
print(new_mdata)
new_root = OUT / "new_data" / "new_donors.h5mu"
new_root.parent.mkdir(parents=True, exist_ok=True)
new_mdata.write_h5mu(new_root)

# unlabelled: read the donors without diagnosis (the classes are the run's); model= is not needed, as the run's
# model is the registered omics-sguq.mogonet that config.yaml names
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root), "dataset.params.unlabelled": True},
    out=OUT / "predictions",
)
table = prediction.tables["predictions"]
print(table[["sample", "predicted", "decided_stage", "uncertainty", "omics_needed", "omics_available"]].head(8))
print(f"metrics: {prediction.metrics or 'none (the new donors carry no diagnosis)'}")
# we simulated them, so we know their diagnosis; with real new donors you would not
truth = cohort.obs.loc[later, "label"].rename(ids).map({0: "NC", 1: "AD"})
agree = np.mean(table["predicted"].to_numpy() == truth.loc[table["sample"]].to_numpy())
print(
    f"agreement with the simulated diagnosis: {agree:.0%} of {len(table)} new donors; written to {OUT / 'predictions'}"
)
