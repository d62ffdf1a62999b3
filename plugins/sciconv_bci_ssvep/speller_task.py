"""The SSVEP speller protocol of Guney et al. (2021): two-stage DNN training, leave-one-block-out.

For each window length T and each held-out block b:

1. every trial is cropped to T seconds from stimulus onset + visual latency and split into the DNN's
   sub-bands (:func:`~sciconv_bci_ssvep.filterbank.guney_subbands`);
2. **stage 1** trains one global model on every subject's training blocks (the core engine, with the
   pipeline's ``train`` settings: the paper uses Adam, lr 1e-4, L2 1e-3, batch 100, 1000 epochs);
3. **stage 2** fine-tunes a copy of it per subject on that subject's training blocks (full batch,
   ``stage2_epochs``, the first two dropouts raised to ``stage2_dropout``), the subjects in parallel
   (``parallel.n_jobs`` joblib workers, or shared among the ranks of a DDP run);
4. the stage-1 model, each stage-2 model and the baselines (FBCCA, training-free, and ensemble TRCA,
   fitted on the subject's training blocks) classify the subject's held-out block.

Accuracy and ITR (Wolpaw, with ``T + gaze_shift`` seconds per selection) are computed per (subject,
block) cell; a subject's number is the mean over its cells, and the report gives the mean over subjects
± its standard error (:func:`sciconv.kit.summarize`, "mean ± SE"; with one subject, its value alone, as a
standard error is undefined). Every subject needs two blocks (sessions) or more. Finished folds are
journalled in ``cells.csv`` in the run directory, so ``--resume`` skips them (stage 1 of an unfinished fold
resumes from its checkpoint).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DataSpec, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext, Trainer
from sciconv.errors import ConfigError, DataError
from sciconv.kit import (
    Summary,
    atomic_write_text,
    derive_seed,
    markdown_table,
    new_figure,
    save_figure,
    seed_everything,
    summarize,
)
from sciconv.parallel import Job
from sciconv_bci_ssvep import published
from sciconv_bci_ssvep.baselines import FBCCA, TRCA
from sciconv_bci_ssvep.dnn_inputs import CropPool, average_softmax, n_features, test_inputs, training_crops
from sciconv_bci_ssvep.itr import itr_bits_per_min
from sciconv_bci_ssvep.recording import SSVEPRecording

METHODS = ("dnn", "dnn_stage1", "fbcca", "trca", "etrca")
METHOD_NAMES = {
    "dnn": "DNN (stage 1 + 2)",
    "dnn_stage1": "DNN, stage 1 only",
    "fbcca": "FBCCA (training-free)",
    "trca": "TRCA",
    "etrca": "ensemble TRCA",
}
_JOURNAL_FIELDS = ("method", "window", "block", "subject", "accuracy", "n_test")
# The results table's columns: the run's rows are the mean over subjects ± its standard error (kit.summarize,
# kind "se"), the published rows the paper's means.
ACC_COLUMN = "accuracy (%, mean ± SE)"
ITR_COLUMN = "ITR (bits/min, mean ± SE)"


class SpellerTask(TaskBase):
    """Leave-one-block-out evaluation of the two-stage DNN beside FBCCA and ensemble TRCA.

    Args:
        windows: window lengths T in seconds, each evaluated separately.
        test_blocks: the held-out blocks (0-based), one fold each; ``None`` = every block (full LOBO).
        n_subbands: sub-bands of the DNN's filter bank (3 in the paper).
        stage2_epochs: epochs of the per-subject fine-tuning (1000 in the paper; full batch).
        stage2_dropout: the first two dropout probabilities in stage 2 (0.6 Benchmark, 0.7 BETA).
        stage1_dropout: the three dropout probabilities in stage 1 (0.1, 0.1, 0.95).
        gaze_shift: seconds added to T per selection in the ITR (0.5 s in the paper).
        baselines: which baselines to run: ``fbcca``, ``trca`` (plain), ``etrca`` (ensemble).
        fbcca_harmonics: harmonics of the FBCCA references (5).
        baseline_subbands: sub-bands of the FBCCA/TRCA filter bank (5).
        reference: published numbers quoted in the report: ``auto`` (from the dataset), ``benchmark``,
            ``beta`` or ``none``.
        dnn_input: what the DNN reads (:mod:`~sciconv_bci_ssvep.dnn_inputs`): ``time``, the sub-band waveforms
            (the paper's; needs responses phase-locked to the trial start), ``magnitude``, their z-scored log
            magnitude spectra (phase-free: for freely flickering stimuli), or ``complex``, the real and
            imaginary parts of their spectra.
        crops: cropped training: windows per training trial at random shifts in the epoch (0: only the window
            at onset + latency, the paper's).
        test_crops: evenly spaced test windows per trial whose softmax outputs are averaged (1: the window at
            onset + latency).
        spectral_band: frequencies (Hz) of the spectral inputs; spectral_resolution: their bin spacing (Hz; the
            window is zero-padded to at least 1 / resolution s).
        protocol: ``cross_session`` (leave-one-block-out: train on the other blocks, the paper's) or
            ``within_session`` (``within_folds``-fold cross-validation over the trials of each held-out block,
            stratified by target within each subject, seeded by the run's seed; train on the block's other
            folds only), as MOABB evaluates.
        within_folds: folds of the within-session protocol.
    """

    def __init__(
        self,
        windows: tuple[float, ...] = (0.4,),
        test_blocks: tuple[int, ...] | None = None,
        n_subbands: Annotated[int, Field(ge=1, le=10)] = 3,
        stage2_epochs: Annotated[int, Field(ge=0)] = 1000,
        stage2_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.6,
        stage1_dropout: tuple[float, float, float] = (0.1, 0.1, 0.95),
        gaze_shift: Annotated[float, Field(ge=0)] = 0.5,
        baselines: tuple[str, ...] = ("fbcca", "etrca"),
        fbcca_harmonics: Annotated[int, Field(ge=1)] = 5,
        baseline_subbands: Annotated[int, Field(ge=1)] = 5,
        reference: str = "auto",
        dnn_input: Literal["time", "magnitude", "complex"] = "time",
        crops: Annotated[int, Field(ge=0, le=256)] = 0,
        test_crops: Annotated[int, Field(ge=1, le=64)] = 1,
        spectral_band: tuple[float, float] = (5.0, 90.0),
        spectral_resolution: Annotated[float, Field(gt=0)] = 0.5,
        protocol: Literal["cross_session", "within_session"] = "cross_session",
        within_folds: Annotated[int, Field(ge=2, le=20)] = 4,
    ) -> None:
        self.windows = windows
        self.test_blocks = test_blocks
        self.n_subbands = n_subbands
        self.stage2_epochs = stage2_epochs
        self.stage2_dropout = stage2_dropout
        self.stage1_dropout = stage1_dropout
        self.gaze_shift = gaze_shift
        self.baselines = baselines
        self.fbcca_harmonics = fbcca_harmonics
        self.baseline_subbands = baseline_subbands
        self.reference = reference
        self.dnn_input: Literal["time", "magnitude", "complex"] = dnn_input
        self.crops = int(crops)
        self.test_crops = int(test_crops)
        self.spectral_band = (float(spectral_band[0]), float(spectral_band[1]))
        self.spectral_resolution = float(spectral_resolution)
        self.protocol: Literal["cross_session", "within_session"] = protocol
        self.within_folds = int(within_folds)

    def validate(self) -> None:
        """Check the lists' values (before any data is read); single numbers are constrained in the signature
        and checked by the pipeline."""
        if not self.windows or any(not (t > 0) for t in self.windows):
            raise ConfigError(f"task.params.windows: expected positive window lengths in s, got {list(self.windows)}")
        if len(set(self.windows)) != len(self.windows):
            raise ConfigError(f"task.params.windows: repeated window lengths in {list(self.windows)}")
        if len(self.stage1_dropout) != 3 or not all(0.0 <= p < 1.0 for p in self.stage1_dropout):
            raise ConfigError(f"task.params.stage1_dropout: expected three probabilities, got {self.stage1_dropout}")
        unknown = set(self.baselines) - {"fbcca", "trca", "etrca"}
        if unknown:
            raise ConfigError(f"task.params.baselines: unknown {sorted(unknown)}; expected fbcca, trca or etrca")
        if self.reference not in ("auto", "benchmark", "beta", "none"):
            raise ConfigError(f"task.params.reference: expected auto, benchmark, beta or none, got {self.reference!r}")

    def model_spec(self, spec: DataSpec) -> DataSpec:
        """The DNN's input for the shortest window: ``(n_subbands, n_channels, round(T * sfreq))``."""
        if spec.sfreq is None:
            raise DataError("bci-ssvep.speller needs the dataset's sampling rate (spec.sfreq)")
        n_times = round(min(self.windows) * spec.sfreq)
        try:
            length = n_features(self.dnn_input, n_times, spec.sfreq, self.spectral_band, self.spectral_resolution)
        except ValueError as exc:
            raise ConfigError(f"task.params.spectral_band: {exc}") from None
        return DataSpec(
            input_shape=(self.n_subbands, spec.n_chans, length),
            n_outputs=spec.n_outputs,
            task_type=spec.task_type,
            sfreq=spec.sfreq,
            classes=spec.classes,
            units=spec.units,
            extra={**spec.extra, "channels": list(spec.channels or ()), "window_s": min(self.windows)},
        )

    # -- the protocol ------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        self.validate()
        data = ctx.load_data()
        recording: SSVEPRecording | None = data.info.get("recording")
        if not isinstance(recording, SSVEPRecording):
            raise DataError(
                f"task bci-ssvep.speller needs an SSVEP dataset (bundle.info['recording']); "
                f"dataset {ctx.config.dataset.name!r} does not provide one"
            )
        meta = recording.epochs.metadata
        _check_labelled(recording, ctx.config.dataset.params.get("root"))
        subjects = recording.subjects
        blocks = list(self.test_blocks) if self.test_blocks is not None else recording.blocks
        missing = sorted(set(blocks) - set(recording.blocks))
        if missing:
            raise ConfigError(
                f"task.params.test_blocks: blocks {missing} are not in the data (blocks: {recording.blocks})"
            )
        if self.protocol == "cross_session":
            _check_sessions(recording, ctx.config.dataset.params.get("root"))
        y_all = meta["target"].to_numpy().astype(np.int64)
        block_all = meta["block"].to_numpy().astype(int)
        subject_all = meta["subject"].to_numpy()
        fold_all = self._fold_ids(recording, ctx.seed)
        folds = sorted({int(f) for f, b in zip(fold_all, block_all, strict=True) if b in blocks})
        journal = _Journal(ctx.run_dir.path / "cells.csv", resume=ctx.resume)
        ctx.log(
            f"bci-ssvep.speller: {_count(len(subjects), 'subject')}, blocks {recording.blocks}, "
            f"{len(recording.freqs)} targets, windows {list(self.windows)} s, {self.protocol.replace('_', '-')}, "
            f"folds {folds}"
        )

        for window in self.windows:
            try:
                x_raw = recording.window(window)  # (n, C, N) microvolts
            except ValueError as exc:
                raise ConfigError(f"task.params.windows: T = {window:g} s does not fit the epochs: {exc}") from None
            x_dnn = self._test_inputs(recording, window)  # (test crops, n, n_subbands, C, F)
            y = torch.from_numpy(y_all)
            spec = self._window_spec(recording, x_dnn[0], window)
            unit = "block" if self.protocol == "cross_session" else "fold"
            for block in folds:
                if journal.fold_done(window, block):
                    ctx.log(f"T = {window:g} s, {unit} {block}: done in an earlier run, skipped")
                    continue
                test = fold_all == block
                # cross-session: every other block; within-session: the other folds of the same block
                same_block = block_all == int(block_all[test][0])
                train = ~test if self.protocol == "cross_session" else same_block & ~test
                rows = self._fold(ctx, recording, spec, x_raw, x_dnn, y, train, test, subject_all, window, block)
                journal.add(rows)
                ran = [m for m in METHODS if any(r["method"] == m for r in rows)]
                ctx.log(
                    f"T = {window:g} s, {unit} {block}: "
                    + ", ".join(f"{m} {np.mean([r['accuracy'] for r in rows if r['method'] == m]):.3f}" for m in ran)
                )

        ctx.save_state(
            "speller",
            {
                "windows": [float(w) for w in self.windows],
                "folds": getattr(self, "_saved_folds", {}),
                "subjects": _subject_keys(subjects),
                "class_names": list(recording.class_names),
            },
        )
        ctx.save_arrays(
            "stimuli", {"freqs": np.asarray(recording.freqs, float), "phases": np.asarray(recording.phases, float)}
        )
        self._locking = phase_locking_report(recording, max(self.windows))
        return self._result(ctx, recording, journal.rows, blocks, subjects)

    def _fold(
        self,
        ctx: RunContext,
        recording: SSVEPRecording,
        spec: DataSpec,
        x_raw: np.ndarray,
        x_dnn: torch.Tensor,
        y: torch.Tensor,
        train: np.ndarray,
        test: np.ndarray,
        subject_all: np.ndarray,
        window: float,
        block: int,
    ) -> list[dict[str, Any]]:
        """One fold: train on the ``train`` trials, test on the ``test`` trials (boolean masks over all trials);
        ``block`` is the fold's id (the held-out block, cross-session; ``block x within_folds + k``, within)."""
        fold = f"T{window:g}-block{block}"
        # Each fold is seeded on its own, so its numbers do not depend on which folds ran before it
        # in this process (a resumed run skips finished ones).
        seed_everything(derive_seed(ctx.seed, fold))
        model = ctx.build_model(spec, dropout=tuple(self.stage1_dropout))
        self._weights = getattr(self, "_weights", {})
        self._weights[window] = sum(p.numel() for n, p in model.named_parameters() if not n.endswith("bias"))
        if self.crops:
            rng = np.random.default_rng(derive_seed(ctx.seed, f"{fold}-crops"))
            pool = training_crops(
                recording,
                train,
                window,
                self.n_subbands,
                self.dnn_input,
                self.crops,
                self.spectral_band,
                self.spectral_resolution,
                rng,
            )
            stage1_data: Any = CropPool(pool, y[train])
        else:
            pool = x_dnn[0][train][None]
            stage1_data = TensorDataset(x_dnn[0][train], y[train])
        stage1 = ctx.fit(model, stage1_data, name=f"{fold}-stage1").model
        stage1_state = {k: v.detach().cpu().clone() for k, v in stage1.state_dict().items()}
        self._global_model = stage1
        tag = _fold_tag(window, block)
        ctx.save_weights(f"dnn_stage1-{tag}", stage1)
        keys = _subject_keys(list(dict.fromkeys(subject_all)))
        self._saved_folds = getattr(self, "_saved_folds", {})
        self._saved_folds.setdefault(f"{window:g}", []).append(int(block))

        rows: list[dict[str, Any]] = []

        def add(method: str, subject: str, predicted: np.ndarray, truth: np.ndarray) -> None:
            rows.append(
                {
                    "method": method,
                    "window": window,
                    "block": block,
                    "subject": subject,
                    "accuracy": float(np.mean(predicted == truth)),
                    "n_test": len(truth),
                }
            )

        subjects = list(dict.fromkeys(subject_all))
        trainer = ctx.trainer(
            epochs=max(self.stage2_epochs, 1),
            progress=False,
            early_stopping={"patience": None, "restore_best": False},
        )
        jobs = []
        for subject in subjects:
            tr = train & (subject_all == subject)
            te = test & (subject_all == subject)
            if not te.any():
                continue
            add("dnn_stage1", subject, predict_crops(ctx.predict, stage1, x_dnn[:, te]), y[te].numpy())
            own = torch.from_numpy(np.flatnonzero(subject_all[train] == subject))
            x_own = pool[:, own].reshape(-1, *pool.shape[2:])  # the subject's training crops, crop-major
            y_own = y[train][own].repeat(pool.shape[0])
            jobs.append(
                Job(
                    f"{fold}-{subject}",
                    (
                        ctx.model_factory,
                        {**ctx.model_params, "dropout": tuple(self.stage1_dropout)},
                        spec,
                        stage1_state,
                        (self.stage2_dropout, self.stage2_dropout),
                        trainer,
                        self.stage2_epochs,
                        x_own,
                        y_own,
                        x_dnn[:, te],
                        f"{fold}-{subject}",
                    ),
                )
            )
        finetuned = ctx.run_jobs(finetune_subject, jobs)
        for subject, (predicted, state) in zip(
            [s for s in subjects if (test & (subject_all == s)).any()], finetuned, strict=True
        ):
            add("dnn", subject, predicted, y[test & (subject_all == subject)].numpy())
            with torch.random.fork_rng(devices=[]):  # building a module draws initial weights: keep the RNG
                subject_model = ctx.build_model(spec, dropout=tuple(self.stage1_dropout))
            subject_model.load_state_dict(state)
            ctx.save_weights(f"dnn-{tag}-{keys[subject]}", subject_model)

        for subject in subjects:
            tr = train & (subject_all == subject)
            te = test & (subject_all == subject)
            if not te.any():
                continue
            truth = y[te].numpy()
            if "fbcca" in self.baselines:
                fbcca = FBCCA(
                    sfreq=recording.sfreq,
                    freqs=recording.freqs,
                    phases=recording.phases,
                    n_harmonics=self.fbcca_harmonics,
                    n_subbands=self.baseline_subbands,
                )
                fbcca.fit(x_raw[tr], truth_of(y, tr))
                ctx.save_arrays(f"fbcca-{tag}-{keys[subject]}", fbcca_state(fbcca))
                add("fbcca", subject, fbcca.predict(x_raw[te]), truth)
            for name, ensemble in (("trca", False), ("etrca", True)):
                if name in self.baselines:
                    trca = TRCA(sfreq=recording.sfreq, n_subbands=self.baseline_subbands, ensemble=ensemble)
                    trca.fit(x_raw[tr], truth_of(y, tr))
                    ctx.save_arrays(f"{name}-{tag}-{keys[subject]}", trca_state(trca))
                    add(name, subject, trca.predict(x_raw[te]), truth)
        return rows

    # -- applying a finished run ---------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """The channels (names and order), sampling rate and targets must be the run's; the epochs may be of
        any length that holds every window (checked by :meth:`predict`, naming the window)."""
        from sciconv.spec import check_compatible

        check_compatible(trained, new, fields=("n_outputs", "task_type", "sfreq", "channels", "classes"))

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Per trial and window T, the target (and its frequency) each of the run's methods predicts.

        Which of the run's models predict a trial: with ``--split test``, the trials of each held-out block are
        predicted by that fold's models (its stage-1 network, each subject's fine-tuned network and fitted
        baselines), as in the run, so the run's metrics come back exactly; with ``--split all`` (new data), every
        trial is predicted by the models of the run's last fold for that window (trained on every other block).
        A subject the run did not see gets the global stage-1 network for ``dnn`` (column ``dnn_stage`` 1), no
        TRCA (no templates) and the training-free FBCCA. Trials with target -1 are unlabelled; with labels, the
        run's metrics (``--split test``) or the same under ``all.``.
        """
        import pandas as pd

        recording = bundle.info.get("recording")
        if not isinstance(recording, SSVEPRecording):
            raise DataError(
                f"task bci-ssvep.speller predicts SSVEP recordings (bundle.info['recording']); got {recording!r}"
            )
        state = ctx.load_state("speller")
        stimuli = ctx.load_arrays("stimuli")
        freqs = np.asarray(stimuli["freqs"], dtype=float)
        keys: dict[str, str] = state["subjects"]
        meta = recording.epochs.metadata
        y_all = meta["target"].to_numpy().astype(np.int64)
        block_all = meta["block"].to_numpy().astype(int)
        subject_all = meta["subject"].to_numpy()
        subjects = list(dict.fromkeys(subject_all))
        labelled = bool(len(y_all)) and bool((y_all >= 0).all())
        fold_all = self._fold_ids(recording, ctx.config.train.seed) if labelled else block_all
        n_classes = len(state["class_names"])
        if len(y_all) == 0:
            raise DataError("the recordings hold no trials to predict")

        columns: dict[str, Any] = {}
        rows: list[dict[str, Any]] = []
        predicted_trials = np.zeros(len(y_all), dtype=bool)
        for window in state["windows"]:
            folds = [int(b) for b in state["folds"].get(f"{window:g}", [])]
            if not folds:
                raise ConfigError(
                    f"{ctx.config.name}: the run saved no models for T = {window:g} s (its folds were finished by an "
                    "earlier, interrupted run, whose trained models were not kept); run it again to predict"
                )
            try:
                x_raw = recording.window(window)
            except ValueError as exc:
                raise DataError(
                    f"these recordings are too short for the run's window T = {window:g} s: {exc}; "
                    f"the run used windows {state['windows']} s"
                ) from None
            x_dnn = self._test_inputs(recording, window)
            spec = self._window_spec(recording, x_dnn[0], window)
            if ctx.split == "test":
                plan = [(b, fold_all == b) for b in folds if (fold_all == b).any()]
                if not plan:
                    raise DataError(
                        f"--split test: the recordings have no trials of the run's held-out blocks {folds} "
                        f"(their blocks: {recording.blocks})"
                    )
            else:
                plan = [(folds[-1], np.ones(len(y_all), dtype=bool))]
            out = {m: np.full(len(y_all), -1, dtype=np.int64) for m in ("fold", "dnn_stage", *METHODS)}
            for block, mask in plan:
                predicted_trials |= mask
                out["fold"][mask] = block
                rows += self._predict_fold(
                    ctx, recording, spec, x_raw, x_dnn, y_all, subject_all, subjects, keys, window, block, mask, out
                )
            suffix = f"@{window:g}"
            columns[f"fold{suffix}"] = out["fold"]
            columns[f"dnn_stage{suffix}"] = out["dnn_stage"]
            for method in METHODS:
                if method in ("trca", "etrca", "fbcca") and method not in self.baselines:
                    continue
                values = out[method]
                columns[f"{method}{suffix}"] = pd.array([int(v) if v >= 0 else None for v in values], dtype="Int64")
                columns[f"{method}_hz{suffix}"] = np.where(values >= 0, freqs[np.clip(values, 0, None)], np.nan)

        table = pd.DataFrame(
            {
                "trial": np.arange(len(y_all)),
                "subject": subject_all,
                "block": block_all,
                "session": meta["session"].to_numpy(),
                **({"target": y_all, "target_hz": freqs[np.clip(y_all, 0, None)]} if labelled else {}),
                **columns,
            }
        )
        table = table[predicted_trials].reset_index(drop=True)
        metrics: dict[str, float] = {}
        if labelled and ctx.split == "test":
            n_folds = len({int(b) for b in table["fold@" + f"{state['windows'][0]:g}"]})
            metrics = self._metrics(summarise(rows, n_classes, self.gaze_shift), len(subjects), n_folds)
        elif labelled:  # every trial with the last fold's models: the same numbers over all trials, no counts
            summary = summarise(rows, n_classes, self.gaze_shift)
            metrics = {f"all.{k}": v for k, v in self._metrics(summary, 0, 0).items() if not k.startswith("n_")}
        return PredictionResult(tables={"predictions": table}, metrics=metrics)

    def _fold_ids(self, recording: SSVEPRecording, seed: int) -> np.ndarray:
        """Each trial's fold: its block (cross-session), or ``block x within_folds + k`` with ``k`` the trial's fold
        of a stratified ``within_folds``-fold split of its subject's trials in that block (within-session).
        Shapes: -> (n_trials,) int64."""
        meta = recording.epochs.metadata
        block_all = meta["block"].to_numpy().astype(np.int64)
        if self.protocol == "cross_session":
            return block_all
        from sklearn.model_selection import StratifiedKFold

        y_all = meta["target"].to_numpy()
        subject_all = meta["subject"].to_numpy()
        fold_all = np.full(len(y_all), -1, dtype=np.int64)
        for subject in dict.fromkeys(subject_all):
            for block in sorted(set(block_all[subject_all == subject])):
                members = np.flatnonzero((subject_all == subject) & (block_all == block))
                counts = np.bincount(y_all[members].astype(np.int64) - y_all[members].min())
                if counts[counts > 0].min() < self.within_folds:
                    raise DataError(
                        f"within-session evaluation with {self.within_folds} folds needs at least that many trials "
                        f"of every target in each session; subject {subject}, block {block} has "
                        f"{int(counts[counts > 0].min())} of one (lower task.params.within_folds)"
                    )
                split = StratifiedKFold(
                    self.within_folds, shuffle=True, random_state=derive_seed(seed, "within") % 2**31
                )
                for k, (_, test) in enumerate(split.split(np.zeros(len(members)), y_all[members])):
                    fold_all[members[test]] = block * self.within_folds + k
        return fold_all

    def _test_inputs(self, recording: SSVEPRecording, window: float) -> torch.Tensor:
        """Every trial's DNN inputs at window T: ``(test_crops, n_trials, n_subbands, C, n_features)``."""
        try:
            return test_inputs(
                recording,
                window,
                self.n_subbands,
                self.dnn_input,
                self.test_crops,
                self.spectral_band,
                self.spectral_resolution,
            )
        except ValueError as exc:
            raise ConfigError(f"task.params (dnn_input {self.dnn_input}, T = {window:g} s): {exc}") from None

    @staticmethod
    def _window_spec(recording: SSVEPRecording, x_dnn: torch.Tensor, window: float) -> DataSpec:
        """The DNN's spec at window T: input ``(n_subbands, n_channels, round(T * sfreq))``."""
        return DataSpec(
            input_shape=tuple(x_dnn.shape[1:]),
            n_outputs=len(recording.class_names),
            task_type="classification",
            sfreq=recording.sfreq,
            classes=recording.class_names,
            units="uV",
            extra={"channels": list(recording.epochs.ch_names), "window_s": window},
        )

    def _predict_fold(
        self,
        ctx: PredictContext,
        recording: SSVEPRecording,
        spec: DataSpec,
        x_raw: np.ndarray,
        x_dnn: torch.Tensor,
        y_all: np.ndarray,
        subject_all: np.ndarray,
        subjects: Sequence[str],
        keys: dict[str, str],
        window: float,
        block: int,
        mask: np.ndarray,
        out: dict[str, np.ndarray],
    ) -> list[dict[str, Any]]:
        """Predict the ``mask``ed trials with fold ``block``'s models into ``out`` (per method, target indices;
        -1 where a method has no model) and return the per-(subject, block) accuracy rows, in the run's order."""
        tag = _fold_tag(window, block)
        stage1 = ctx.load_weights(f"dnn_stage1-{tag}", ctx.build_model(spec, dropout=tuple(self.stage1_dropout)))
        rows: list[dict[str, Any]] = []
        per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}

        def add(method: str, subject: str, te: np.ndarray, predicted: np.ndarray) -> None:
            out[method][te] = predicted
            truth = y_all[te]
            per_method[method].append(
                {
                    "method": method,
                    "window": window,
                    "block": block,
                    "subject": subject,
                    "accuracy": float(np.mean(predicted == truth)),
                    "n_test": len(truth),
                }
            )

        for subject in subjects:
            te = mask & (subject_all == subject)
            if not te.any():
                continue
            global_predicted = predict_crops(ctx.predict, stage1, x_dnn[:, te])
            add("dnn_stage1", subject, te, global_predicted)
            key = keys.get(str(subject))
            name = f"dnn-{tag}-{key}"
            if key is not None and ctx.trained.has(name):
                model = ctx.load_weights(name, ctx.build_model(spec, dropout=tuple(self.stage1_dropout)))
                add("dnn", subject, te, predict_crops(ctx.predict, model, x_dnn[:, te]))
                out["dnn_stage"][te] = 2
            else:
                add("dnn", subject, te, global_predicted)
                out["dnn_stage"][te] = 1
            if "fbcca" in self.baselines:
                name = f"fbcca-{tag}-{key}"
                fitted = ctx.load_arrays(name) if key is not None and ctx.trained.has(name) else None
                fbcca = fbcca_from_state(
                    FBCCA(
                        sfreq=recording.sfreq,
                        freqs=ctx.load_arrays("stimuli")["freqs"],
                        phases=ctx.load_arrays("stimuli")["phases"],
                        n_harmonics=self.fbcca_harmonics,
                        n_subbands=self.baseline_subbands,
                    ),
                    fitted,
                    x_raw.shape[1],
                )
                if fbcca is not None:
                    add("fbcca", subject, te, fbcca.predict(x_raw[te]))
            for method, ensemble in (("trca", False), ("etrca", True)):
                name = f"{method}-{tag}-{key}"
                if method in self.baselines and key is not None and ctx.trained.has(name):
                    trca = TRCA(sfreq=recording.sfreq, n_subbands=self.baseline_subbands, ensemble=ensemble)
                    add(method, subject, te, trca_from_state(trca, ctx.load_arrays(name)).predict(x_raw[te]))
        for method in METHODS:
            rows += per_method[method]
        return rows

    def _metrics(self, summary: dict[Any, Any], n_subjects: int, n_folds: int) -> dict[str, float]:
        """The metrics of a run (:meth:`_result`) or a prediction, from the per-method, per-window summary of
        :func:`summarise`: mean accuracy and ITR, and their standard errors where there are two or more subjects
        (with one the standard error is undefined: no number stands for it)."""
        metrics: dict[str, float] = {}
        for method in METHODS:
            for window in self.windows:
                cell = summary.get((method, window))
                if cell is None:
                    continue
                acc, itr = cell["acc"], cell["itr"]
                metrics[f"{method}.acc@{window:g}"] = acc.mean
                metrics[f"{method}.itr@{window:g}"] = itr.mean
                if acc.n > 1:
                    metrics[f"{method}.acc_se@{window:g}"] = acc.spread
                    metrics[f"{method}.itr_se@{window:g}"] = itr.spread
        metrics["n_subjects"] = float(n_subjects)
        metrics["n_folds"] = float(n_folds)
        return metrics

    # -- results -----------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        recording: SSVEPRecording,
        rows: list[dict[str, Any]],
        blocks: Sequence[int],
        subjects: Sequence[str],
    ) -> TaskResult:
        n_classes = len(recording.class_names)
        summary = summarise(rows, n_classes, self.gaze_shift)
        metrics = self._metrics(summary, len(subjects), len(blocks))
        locking = getattr(self, "_locking", None)
        if locking is not None:
            metrics["itpc.stimulus"] = float(locking["summary"]["itpc"])
            metrics["itpc.neighbours"] = float(locking["summary"]["itpc_neighbours"])
        table: list[ResultRow] = []
        for method in METHODS:
            for window in self.windows:
                cell = summary.get((method, window))
                if cell is None:
                    continue
                acc, itr = cell["acc"], cell["itr"]
                table.append(
                    ResultRow(
                        f"{METHOD_NAMES[method]}, T = {window:g} s",
                        {
                            ACC_COLUMN: format_summary(acc, digits=2, scale=100),
                            ITR_COLUMN: format_summary(itr, digits=1),
                        },
                    )
                )
        reference = self.reference if self.reference != "auto" else _reference_for(recording.name)
        source = published.CITATION + (", real data" if recording.name.startswith("simulated") else "")
        for window, numbers in published.reference_rows(reference).items():
            table.append(
                ResultRow(
                    f"DNN, {reference} dataset, T = {window:g} s",
                    {ACC_COLUMN: f"{100 * numbers['acc']:.2f}", ITR_COLUMN: f"{numbers['itr']:.1f}"},
                    source=source,
                    published=True,
                )
            )
        if reference == "benchmark":
            table.append(
                ResultRow(
                    "DNN, stage 1 only, benchmark dataset, T = 0.4 s",
                    {ACC_COLUMN: f"{100 * published.BENCHMARK_STAGE1_ACC_AT_04:.2f}"},
                    source=source,
                    published=True,
                )
            )
        plots = []
        if ctx.config.output.plots:
            path = plot_vs_window(
                summary, self.windows, published.reference_rows(reference), ctx.plots_dir / "acc_itr_vs_window.png"
            )
            spread = "one subject: no standard error" if len(subjects) == 1 else "mean ± SE over subjects"
            plots.append((path, f"Accuracy and ITR against the window length T ({spread})"))
        sections = {
            "Protocol": (
                f"{recording.name} data: {_count(len(subjects), 'subject')}, {_count(len(recording.blocks), 'block')}, "
                f"{n_classes} targets, {len(recording.epochs.ch_names)} channels "
                f"({', '.join(recording.epochs.ch_names)}) at {recording.sfreq:g} Hz; windows start at stimulus onset "
                f"+ {recording.latency:g} s visual latency. "
                + (
                    f"Leave-one-block-out over blocks {list(blocks)}"
                    f"{' (all)' if list(blocks) == recording.blocks else ' (a subset of the folds)'}. "
                    if self.protocol == "cross_session"
                    else f"Within-session: {self.within_folds}-fold cross-validation over the trials of each of blocks "
                    f"{list(blocks)} (stratified by target within each subject; training on the block's other folds "
                    "only). "
                )
                + "Stage 1: "
                f"{ctx.config.train.epochs} epochs, batch {ctx.config.train.batch_size}, "
                f"{ctx.config.train.optimizer} lr {ctx.config.train.lr}, "
                f"L2 {ctx.config.train.weight_decay} on weights; stage 2: {self.stage2_epochs} epochs, full batch, "
                f"dropout {self.stage2_dropout}. ITR uses T + {self.gaze_shift:g} s per selection, computed per "
                "(subject, block) and averaged. "
                + (
                    "Results are the one subject's numbers (one subject: no standard error)."
                    if len(subjects) == 1
                    else "Results are the mean ± SE (standard error of the mean) over subjects."
                )
            ),
            "Per-subject accuracy": per_subject_table(rows, self.windows),
        }
        if locking is not None:
            sections["Phase locking of the responses"] = locking["text"]
        weights = getattr(self, "_weights", {})
        if weights:
            sections["Model size"] = (
                "Weights of the DNN, biases excluded, by window (the paper: 413,883 at 0.4 s, 9 channels):\n\n"
                + "\n".join(f"- T = {t:g} s: {n:,}" for t, n in sorted(weights.items()))
            )
        # LOBO trains one global model per (T, fold) and one per subject; the last fold's global model is
        # the one handed back (None when every fold was finished by an earlier, resumed run).
        return TaskResult(
            metrics=metrics, model=getattr(self, "_global_model", None), table=table, plots=plots, sections=sections
        )


# --- helpers --------------------------------------------------------------------------------------


def phase_locking_report(recording: SSVEPRecording, window: float) -> dict[str, Any]:
    """The phase-locking diagnostic (:mod:`~sciconv_bci_ssvep.phase_locking`) of a dataset for the report: inter-trial
    phase coherence of each target's trials at its stimulus frequency against neighbouring frequencies, per subject
    and block (one session per block for recordings read through MNE; all blocks pooled for the Benchmark layout,
    where a block holds one trial per target), over the ``window`` s after onset + latency. Returns ``summary``
    (:func:`~sciconv_bci_ssvep.phase_locking.phase_locking_summary` of every row) and ``text`` (the sentence and a
    table per block)."""
    from sciconv_bci_ssvep.phase_locking import phase_locking_summary, phase_locking_table

    meta = recording.epochs.metadata
    one_trial_per_target = bool((meta.groupby(["subject", "block", "target"]).size() <= 1).all())
    by = "subject" if one_trial_per_target else "session"
    rows = phase_locking_table(recording, window, by=by)
    summary = phase_locking_summary(rows)
    block_of = dict(zip(meta["session"].astype(str), meta["block"].astype(int), strict=False))
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = "all blocks" if row["session"] is None else f"block {block_of.get(str(row['session']), '?')}"
        groups.setdefault(key, []).append(row)
    table = []
    for key, members in sorted(groups.items()):
        part = phase_locking_summary(members)
        table.append(
            {
                "trials": key,
                "ITPC at the stimulus frequencies": f"{part['itpc']:.2f}",
                "ITPC nearby": f"{part['itpc_neighbours']:.2f}",
                "chance": f"{part['chance']:.2f}",
                "verdict": part["verdict"],
            }
        )
    text = (
        f"{summary['sentence']} Inter-trial phase coherence of each target's trials (per subject"
        + (", pooled over blocks" if by == "subject" else " and session")
        + f") over the {window:g} s window, mean over channels, subjects and targets; 'nearby' is the mean at "
        "frequencies a few Hz off the stimulus (no stimulus frequency or harmonic); chance is the ITPC of random "
        "phases for that many trials.\n\n" + markdown_table(table)
    )
    return {"summary": summary, "text": text}


def _fold_tag(window: float, block: int) -> str:
    """The part of a saved model's name that names its fold: ``T0.4-block2``."""
    return f"T{window:g}-block{int(block)}"


def _subject_keys(subjects: Sequence[str]) -> dict[str, str]:
    """Subject id -> the file-name-safe key of its saved models (``s0``, ``s1``, ... in order of appearance)."""
    return {str(subject): f"s{i}" for i, subject in enumerate(subjects)}


def _scalar(value: Any, kind: type) -> Any:
    """A saved scalar (safetensors keeps 0-d arrays as 1-element ones) as ``kind``."""
    return kind(np.asarray(value).reshape(-1)[0])


def fbcca_state(fbcca: FBCCA) -> dict[str, np.ndarray]:
    """What a fitted FBCCA learned (its rest threshold, when the table has a rest target), as arrays."""
    state = {"n_channels": np.asarray(fbcca.n_channels_)}
    if fbcca.rest_index_ is not None:
        state["threshold"] = np.asarray(fbcca.threshold_, dtype=np.float64)
    return state


def fbcca_from_state(fbcca: FBCCA, state: dict[str, np.ndarray] | None, n_channels: int) -> FBCCA | None:
    """``fbcca`` as fitted, from :func:`fbcca_state`; without a state (a subject the run did not see) the
    training-free detector, or ``None`` when a rest threshold would have to be learned."""
    _, rest = fbcca._table()
    if rest is not None and (state is None or "threshold" not in state):
        return None
    fbcca.classes_ = np.arange(np.asarray(fbcca.freqs).size)
    fbcca.n_channels_ = _scalar(state["n_channels"], int) if state is not None else n_channels
    fbcca.rest_index_ = rest
    if rest is not None:
        fbcca.threshold_ = _scalar(state["threshold"], float)
    return fbcca


def trca_state(trca: TRCA) -> dict[str, np.ndarray]:
    """A fitted TRCA's spatial filters and templates, as arrays."""
    return {
        "classes": np.asarray(trca.classes_),
        "filters": trca.filters_,
        "templates": trca.templates_,
        "n_channels": np.asarray(trca.n_channels_),
        "n_times": np.asarray(trca.n_times_),
    }


def trca_from_state(trca: TRCA, state: dict[str, np.ndarray]) -> TRCA:
    """``trca`` as fitted, from :func:`trca_state`."""
    trca.classes_ = state["classes"]
    trca.filters_ = state["filters"]
    trca.templates_ = state["templates"]
    trca.n_channels_ = _scalar(state["n_channels"], int)
    trca.n_times_ = _scalar(state["n_times"], int)
    return trca


def truth_of(y: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """Labels of the masked trials as a numpy array."""
    return y[torch.from_numpy(mask)].numpy()


def finetune_subject(
    factory: Any,
    params: dict[str, Any],
    spec: DataSpec,
    state: dict[str, torch.Tensor],
    dropout: tuple[float, float],
    trainer: Trainer,
    epochs: int,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    name: str,
) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """Stage 2 for one subject: start from the global model, fine-tune on the subject's training
    trials (full batch; with cropped training, all their crops), and return the predicted targets of its test
    trials, shape ``(n_test,)`` (``x_test`` is ``(n_test_crops, n_test, ...)``: the softmax is averaged over the
    crops), and the fine-tuned weights (a state dict on the CPU, which ``predict`` applies again).

    ``trainer`` holds the stage-2 training settings (:meth:`RunContext.trainer`); the batch is set here to the
    subject's training trials. One independent job of :func:`sciconv.parallel.run_jobs`, which seeds it from
    the run's seed and ``name`` (so the result does not depend on the number of workers) and sets its torch
    threads.
    """
    model = factory(spec, **params)
    model.load_state_dict(state)
    if callable(getattr(model, "set_dropout", None)):
        model.set_dropout(*dropout)
    full_batch = Trainer({**trainer.settings, "batch_size": max(len(x_train), 1)})
    if epochs > 0:
        model = full_batch.fit(model, TensorDataset(x_train, y_train), name=name).model
    predicted = predict_crops(full_batch.predict, model, x_test)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return predicted, state


def predict_crops(predict: Any, model: Any, x: torch.Tensor) -> np.ndarray:
    """Predicted targets of trials given as ``x`` ``(n_crops, n, ...)``: the argmax of the softmax averaged over
    the crops (one crop: the argmax of the outputs). ``predict`` is a context's or trainer's ``predict``."""
    k, n = int(x.shape[0]), int(x.shape[1])
    flat = x.reshape(k * n, *x.shape[2:])
    outputs, _ = predict(model, TensorDataset(flat, torch.zeros(k * n, dtype=torch.long)))
    return average_softmax(outputs, k).argmax(1).numpy()


def _check_labelled(recording: SSVEPRecording, root: str | None) -> None:
    """A run trains and evaluates on targets: refuse unlabelled trials (target -1).

    Raises:
        DataError: naming how many trials have no target and how to predict them instead.
    """
    unlabelled = int((recording.epochs.metadata["target"].to_numpy() < 0).sum())
    if unlabelled:
        raise DataError(
            f"{unlabelled} of {len(recording.epochs)} trials have no target (unlabelled recordings): a run "
            "needs labelled trials to train and evaluate; predict these with a finished run instead: "
            f"pipeline predict RUN_DIR dataset.params.root={root or 'NEW'} dataset.params.unlabelled=true"
        )


def _check_sessions(recording: SSVEPRecording, root: str | None) -> None:
    """Every subject needs two blocks (sessions) or more: one to test on and one to train on.

    Raises:
        DataError: naming each subject with fewer and its sessions (for recordings read through MNE, the files,
            under ``root`` when it is known).
    """
    meta = recording.epochs.metadata
    short: list[str] = []
    names: list[str] = []
    for subject in recording.subjects:
        rows = meta[meta["subject"] == subject]
        blocks = sorted(set(rows["block"].astype(int)))
        if len(blocks) >= 2:
            continue
        sessions = list(dict.fromkeys(rows["session"].astype(str)))
        if recording.name == "mne" and root:  # sessions are file paths relative to the root
            sessions = [str(Path(str(root)).expanduser() / s) for s in sessions]
        names.append(str(subject))
        short.append(f"subject {subject} has {len(blocks)} session: {', '.join(sessions)}")
    if short:
        shown = " and ".join(short[:5])
        if len(short) > 5:
            shown += f" and {len(short) - 5} more subjects ({', '.join(names[5:])}) have 1 session each"
        them = "it" if len(short) == 1 else "them"
        raise DataError(
            "cross-session (leave-one-block-out) evaluation needs at least 2 sessions (blocks) per subject, but "
            f"{shown}; add a session for {them} or leave {them} out of the dataset"
        )


def format_summary(summary: Summary, digits: int, scale: float = 1.0) -> str:
    """A result cell: ``"mean ± SE"`` (:meth:`sciconv.kit.Summary.format`), but over one subject the value alone,
    marked ``"(1 subject, no SE)"``: a standard error is undefined there (the kit's generic mark is ``(n=1)``;
    a speller table counts subjects)."""
    if summary.n == 1:
        return f"{summary.mean * scale:.{digits}f} (1 subject, no SE)"
    return summary.format(digits=digits, scale=scale)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _reference_for(dataset: str) -> str:
    if dataset in ("benchmark", "simulated-benchmark"):
        return "benchmark"
    if dataset == "beta":
        return "beta"
    return "none"


def summarise(
    rows: Sequence[dict[str, Any]], n_classes: int, gaze_shift: float
) -> dict[tuple[str, float], dict[str, Summary]]:
    """Accuracy and ITR per (method, window): ``{"acc": Summary, "itr": Summary}``, each the mean over
    subjects ± its standard error (:func:`sciconv.kit.summarize`, ``kind="se"``). A subject's value is the
    mean over its (subject, block) cells; ITR is computed per cell, with ``window + gaze_shift`` seconds."""
    out: dict[tuple[str, float], dict[str, Summary]] = {}
    keys = sorted({(r["method"], float(r["window"])) for r in rows})
    for method, window in keys:
        cells = [r for r in rows if r["method"] == method and float(r["window"]) == window]
        per_subject_acc: dict[str, list[float]] = {}
        per_subject_itr: dict[str, list[float]] = {}
        for r in cells:
            per_subject_acc.setdefault(r["subject"], []).append(float(r["accuracy"]))
            per_subject_itr.setdefault(r["subject"], []).append(
                float(itr_bits_per_min(float(r["accuracy"]), n_classes, window + gaze_shift))
            )
        out[(method, window)] = {
            "acc": summarize([np.mean(v) for v in per_subject_acc.values()], kind="se"),
            "itr": summarize([np.mean(v) for v in per_subject_itr.values()], kind="se"),
        }
    return out


def per_subject_table(rows: Sequence[dict[str, Any]], windows: Sequence[float]) -> str:
    """Markdown table of each subject's mean accuracy (%) per method at the largest window."""
    window = max(windows)
    subjects = list(dict.fromkeys(r["subject"] for r in rows))
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    table = []
    for subject in subjects:
        line: dict[str, str] = {"subject": subject}
        for m in methods:
            values = [
                r["accuracy"] for r in rows if r["subject"] == subject and r["method"] == m and r["window"] == window
            ]
            if values:
                line[m] = f"{100 * np.mean(values):.1f}"
        table.append(line)
    return f"At T = {window:g} s, mean over held-out blocks:\n\n" + markdown_table(table, ["subject", *methods])


def plot_vs_window(
    summary: dict[tuple[str, float], dict[str, Summary]],
    windows: Sequence[float],
    reference: dict[float, dict[str, float]],
    path: Path,
) -> Path:
    """Accuracy and ITR against T for each method (mean ± SE over subjects), with the published DNN curve
    when there is one."""
    fig, grid = new_figure(1, 2, figsize=(10, 3.8))
    axes = grid[0]
    ts = sorted(windows)
    for method in METHODS:
        if (method, ts[0]) not in summary:
            continue
        for ax, key in zip(axes, ("acc", "itr"), strict=True):
            values = [summary[(method, t)][key].mean * (100 if key == "acc" else 1) for t in ts]
            errors = [summary[(method, t)][key].spread * (100 if key == "acc" else 1) for t in ts]
            ax.errorbar(ts, values, yerr=errors, marker="o", capsize=3, label=METHOD_NAMES[method])
    if reference:
        rt = sorted(reference)
        axes[0].plot(rt, [100 * reference[t]["acc"] for t in rt], "k--", label="DNN, published (real data)")
        axes[1].plot(rt, [reference[t]["itr"] for t in rt], "k--", label="DNN, published (real data)")
    axes[0].set_ylabel("accuracy (%)")
    axes[1].set_ylabel("ITR (bits/min)")
    for ax in axes:
        ax.set_xlabel("window T (s)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


class _Journal:
    """Per-cell accuracies of finished folds, kept in ``cells.csv`` so that a resumed run skips them."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if resume and path.is_file():
            with path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    self.rows.append(
                        {
                            "method": row["method"],
                            "window": float(row["window"]),
                            "block": int(row["block"]),
                            "subject": row["subject"],
                            "accuracy": float(row["accuracy"]),
                            "n_test": int(row["n_test"]),
                        }
                    )

    def fold_done(self, window: float, block: int) -> bool:
        return any(r["window"] == window and r["block"] == block and r["method"] == "dnn" for r in self.rows)

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_JOURNAL_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buffer.getvalue())
