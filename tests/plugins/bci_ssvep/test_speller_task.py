"""The speller protocol end to end on small simulated data, its bookkeeping, and the plugin's conformance."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import sciconv
from sciconv.errors import ConfigError, DataError, RunInterrupted, SciconvError
from sciconv.kit import require_root
from sciconv.testing import check_plugin
from sciconv_bci_ssvep.datasets import MNE_FOLDERS
from sciconv_bci_ssvep.itr import itr_bits_per_min
from sciconv_bci_ssvep.mat_io import write_beta_subject
from sciconv_bci_ssvep.speller_task import ACC_COLUMN, ITR_COLUMN, summarise
from sciconv_bci_ssvep.ssvep_simulator import simulate_benchmark, simulate_subject

EXO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ssvep-exoskeleton"
TINY = {
    "dataset.params.n_subjects": 2,
    "dataset.params.n_blocks": 3,
    "task.params.windows": [0.3, 0.5],
    "task.params.test_blocks": [0],
    "task.params.stage2_epochs": 2,
    "parallel.n_jobs": 1,
    "train.epochs": 2,
    "train.progress": False,
}


@pytest.fixture(scope="module", autouse=True)
def simulation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One simulation cache for this module: the runs with the same dataset parameters share their subjects."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cache")
        mp.setenv("SCICONV_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny_run(simulation_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> sciconv.RunResult:
    return sciconv.run("bci-ssvep", overrides=TINY, run_dir=tmp_path_factory.mktemp("ssvep") / "run")


def test_metrics_for_every_method_and_window(tiny_run: sciconv.RunResult) -> None:
    for method in ("dnn", "dnn_stage1", "fbcca", "etrca"):
        for window in ("0.3", "0.5"):
            acc, itr = tiny_run.metrics[f"{method}.acc@{window}"], tiny_run.metrics[f"{method}.itr@{window}"]
            assert 0.0 <= acc <= 1.0
            assert itr >= 0.0
    assert tiny_run.metrics["n_subjects"] == 2 and tiny_run.metrics["n_folds"] == 1
    assert 0.0 <= tiny_run.metrics["dnn.acc_se@0.3"] <= 0.5  # the standard error over the two subjects
    # The training-free baseline is far above chance (1/40) on this simulated data, even at 0.5 s.
    assert tiny_run.metrics["fbcca.acc@0.5"] > 0.2


def test_run_directory_explains_itself(tiny_run: sciconv.RunResult) -> None:
    run = tiny_run.run_dir
    report = (run / "report.md").read_text()
    assert "DNN (stage 1 + 2), T = 0.5 s" in report and "ensemble TRCA" in report and "FBCCA" in report
    # the spread is named: mean ± SE over subjects
    assert f"| method | {ACC_COLUMN} | {ITR_COLUMN} | source |" in report and "mean ± SE" in ACC_COLUMN
    dnn_row = next(line for line in report.splitlines() if line.startswith("| DNN (stage 1 + 2), T = 0.5 s |"))
    assert dnn_row.count(" ± ") == 2 and "no SE" not in dnn_row and "2 subjects, 3 blocks" in report
    assert "published: Guney et al., IEEE TBME 2021" in report
    assert "![Accuracy and ITR against the window length" in report
    assert (run / "plots" / "acc_itr_vs_window.png").stat().st_size > 10_000
    with (run / "cells.csv").open() as fh:
        cells = list(csv.DictReader(fh))
    assert len(cells) == 4 * 2 * 2  # methods (TRCA alone is not run by default) x windows x subjects, one fold
    assert "trca.acc@0.5" not in tiny_run.metrics
    assert json.loads((run / "metrics.json").read_text()) == tiny_run.metrics
    assert tiny_run.model is not None  # the last fold's global (stage-1) model


def test_itr_is_averaged_over_cells_not_computed_from_the_mean() -> None:
    rows = [
        {"method": "dnn", "window": 0.4, "block": b, "subject": s, "accuracy": a, "n_test": 40}
        for s, b, a in [("S1", 0, 1.0), ("S1", 1, 0.5), ("S2", 0, 0.2), ("S2", 1, 0.9)]
    ]
    result = summarise(rows, 40, 0.5)[("dnn", 0.4)]
    per_subject = [
        np.mean([itr_bits_per_min(1.0, 40, 0.9), itr_bits_per_min(0.5, 40, 0.9)]),
        np.mean([itr_bits_per_min(0.2, 40, 0.9), itr_bits_per_min(0.9, 40, 0.9)]),
    ]
    assert result["itr"].mean == pytest.approx(np.mean(per_subject))
    assert result["acc"].mean == pytest.approx(np.mean([0.75, 0.55]))
    assert result["acc"].spread == pytest.approx(np.std([0.75, 0.55], ddof=1) / np.sqrt(2))
    assert result["itr"].mean != pytest.approx(itr_bits_per_min(0.65, 40, 0.9))
    assert result["acc"].label == result["itr"].label == "mean ± SE" and result["acc"].n == 2


def _cells(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "cells.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_resume_skips_finished_folds_and_parallel_equals_serial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = {**TINY, "task.params.windows": [0.4], "task.params.test_blocks": [0, 1]}
    # The reference: both folds, uninterrupted, serially.
    fresh = sciconv.run("bci-ssvep", overrides=overrides, run_dir=tmp_path / "fresh")

    # The same run stopped by SIGTERM just after fold 0 was journalled (the signal handler raises RunInterrupted
    # in the main thread; here the task's progress message after the fold raises it, at a deterministic point).
    def stop_after_fold_0(message: str) -> None:
        if message.startswith("T = 0.4 s, block 0: "):
            raise RunInterrupted("SIGTERM", 15)

    run = tmp_path / "run"
    with pytest.raises(RunInterrupted):
        sciconv.load_pipeline("bci-ssvep", overrides).run(run, log=stop_after_fold_0)
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    journalled = _cells(run)
    assert {c["block"] for c in journalled} == {"0"} and len(journalled) == 4 * 2  # methods x subjects
    assert not (run / "metrics.json").exists()

    # A resume may not change which folds run (that is another run); refused before anything is touched.
    with pytest.raises(ConfigError, match=r"cannot change task\.params\.test_blocks=\[0, 1, 2\] \(was \[0, 1\]\)"):
        sciconv.run(resume=run, overrides={"task.params.test_blocks": [0, 1, 2]})
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted" and _cells(run) == journalled

    # Continue it with two workers: fold 0 comes from the journal, fold 1 is computed.
    capsys.readouterr()
    more = sciconv.run(resume=run, overrides={"parallel.n_jobs": 2})
    log = capsys.readouterr().err
    assert "T = 0.4 s, block 0: done in an earlier run, skipped" in log
    assert "T = 0.4 s, block 1: dnn " in log and "T = 0.4 s, block 0: dnn " not in log
    with (run / "history.csv").open() as fh:  # this run's fits: fold 1's stage 1 only
        assert {row["fit"] for row in csv.DictReader(fh)} == {"T0.4-block1-stage1"}
    cells = _cells(run)
    assert cells[: len(journalled)] == journalled  # fold 0's rows as the interrupted run left them
    assert {c["block"] for c in cells[len(journalled) :]} == {"1"} and len(cells) == 2 * len(journalled)
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert more.metrics["n_folds"] == 2

    # Resumed in parallel or computed from scratch serially: the same numbers.
    assert more.metrics == fresh.metrics
    assert sorted(map(tuple, (c.values() for c in cells))) == sorted(
        map(tuple, (c.values() for c in _cells(tmp_path / "fresh")))
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task.params.windows": [6.0]}, r"T = 6 s does not fit the epochs"),
        ({"task.params.test_blocks": [7]}, r"blocks \[7\] are not in the data"),
        ({"task.params.windows": [0.4, 0.4]}, "repeated window"),
        ({"task.params.baselines": ["cca"]}, "unknown"),
        ({"task.params.stage2_dropout": 1.5}, r"task\.params\.stage2_dropout: expected a number >= 0 and < 1"),
        ({"task.params.stage1_dropout": [0.1, 0.1, 1.0]}, "three probabilities"),
        ({"task.params.n_subbands": 11}, r"task\.params\.n_subbands: expected an integer >= 1 and <= 10"),
        ({"task.params.stage2_epochs": -1}, r"task\.params\.stage2_epochs: expected an integer >= 0"),
        ({"task.params.gaze_shift": -0.5}, r"task\.params\.gaze_shift: expected a number >= 0"),
        ({"dataset.params.n_blocks": 1}, r"dataset\.params\.n_blocks: expected an integer >= 2"),
        ({"dataset.params.n_subjects": 0}, r"dataset\.params\.n_subjects: expected an integer >= 1"),
        ({"model.params.n_filters": 0}, r"model\.params\.n_filters: expected an integer >= 1"),
    ],
)
def test_bad_task_parameters(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sciconv.run("bci-ssvep", overrides={**TINY, **overrides}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "component", "expected"),
    [
        ("bci-ssvep-benchmark", "bci-ssvep.benchmark", "S1.mat .. S35.mat"),
        ("bci-ssvep-beta", "bci-ssvep.beta", "S1.mat .. S70.mat"),
        ("bci-ssvep-exo", "bci-ssvep.mne-recordings", "subject folders"),
    ],
)
def test_root_is_required_for_real_data_pipelines(tmp_path: Path, name: str, component: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"dataset\.params\.root: {component} reads .*{expected}.*; give it with"):
        sciconv.load_pipeline(name)
    with pytest.raises(DataError, match=rf"dataset\.params\.root: {tmp_path / 'absent'} does not exist"):
        sciconv.load_pipeline(name, {"dataset.params.root": str(tmp_path / "absent")})


def test_a_missing_exo_root_is_refused_before_the_run_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sciconv.cli import main

    absent, runs = tmp_path / "nonexistent", tmp_path / "runs"
    code = main(["run", "bci-ssvep-exo", f"dataset.params.root={absent}", f"output.root={runs}"])
    err = capsys.readouterr().err
    # the kit's root check decides the error (and so the exit code), the same for every real-data pipeline
    with pytest.raises(SciconvError) as kit_error:
        require_root(absent, "bci-ssvep.mne-recordings", MNE_FOLDERS)
    assert code == kit_error.value.exit_code != 0
    assert err.strip().splitlines() == [f"error: {kit_error.value}"]
    assert f"dataset.params.root: {absent} does not exist (expected a folder of subject folders" in err
    assert "running" not in err and not runs.exists()


def _beta_folder(root: Path) -> Path:
    root.mkdir()
    sub = simulate_subject(1, seed=0, n_blocks=3, n_targets=40, snr_db=-2.5, physics=None)
    write_beta_subject(root / "S1.mat", sub.data[:, :1000].transpose(0, 1, 3, 2), sub.freqs, sub.phases)
    return root


def _exoskeleton_like_folder(root: Path, sessions: dict[str, int] | None = None) -> Path:
    """Recordings in the layout of the SSVEP exoskeleton sample, for when the real one is absent: by default one
    subject, three sessions (FIF with a stim channel, 256 Hz, Oz/O1/O2), each with two trials of rest, 13, 17
    and 21 Hz (the sample's event codes), 5 s of a 10 µV sinusoid at the class's frequency in 2 µV noise.
    ``sessions`` gives the number of sessions of each subject folder instead."""
    import mne

    from sciconv_bci_ssvep.mne_io import EXOSKELETON_EVENTS, EXOSKELETON_FREQS

    sfreq, codes = 256.0, list(EXOSKELETON_EVENTS.values()) * 2
    freq_of = {code: EXOSKELETON_FREQS[name] for name, code in EXOSKELETON_EVENTS.items()}
    rng = np.random.default_rng(0)
    for subject, session in [(s, k + 1) for s, n in (sessions or {"subject01": 3}).items() for k in range(n)]:
        n = int((2 + 6 * len(codes) + 2) * sfreq)
        t = np.arange(n) / sfreq
        data, stim = rng.normal(0.0, 2e-6, (3, n)), np.zeros((1, n))
        for i, code in enumerate(codes):
            start = int((2 + 6 * i) * sfreq)
            stim[0, start : start + 5] = code
            if np.isfinite(freq_of[code]):
                seg = slice(start, start + int(5 * sfreq))
                data[:, seg] += 10e-6 * np.sin(2 * np.pi * freq_of[code] * (t[seg] - t[start]))
        info = mne.create_info(["Oz", "O1", "O2", "STI 014"], sfreq, ["eeg"] * 3 + ["stim"])
        path = root / subject / f"{subject}_session{session}_raw.fif"
        path.parent.mkdir(parents=True, exist_ok=True)
        mne.io.RawArray(np.vstack([data, stim]), info, verbose="error").save(path, verbose="error")
    return root


EXO_TINY = {
    "task.params.test_blocks": [0],
    "task.params.windows": [1.0],
    "task.params.stage2_epochs": 1,
    "train.epochs": 1,
    "train.progress": False,
    "parallel.n_jobs": 1,
}


@pytest.mark.parametrize(
    "sessions",
    [{"subject01": 1}, {"subject01": 2, "subject02": 1}],
    ids=["the only subject", "one of two subjects"],
)
def test_a_subject_with_one_session_is_named(tmp_path: Path, sessions: dict[str, int]) -> None:
    root = _exoskeleton_like_folder(tmp_path / "exo", sessions)
    lone = next(s for s, n in sessions.items() if n == 1)
    with pytest.raises(DataError) as e:
        sciconv.run("bci-ssvep-exo", overrides={**EXO_TINY, "dataset.params.root": str(root)}, run_dir=tmp_path / "run")
    msg = str(e.value)
    assert "\n" not in msg
    assert "cross-session (leave-one-block-out) evaluation needs at least 2 sessions (blocks) per subject" in msg
    assert f"subject {lone} has 1 session: {root / lone / f'{lone}_session1_raw.fif'}" in msg
    assert "subject01 has 2" not in msg  # only the subjects at fault are listed


def test_one_subject_is_reported_without_a_standard_error(tmp_path: Path) -> None:
    root = _exoskeleton_like_folder(tmp_path / "exo", {"subject01": 2})
    result = sciconv.run(
        "bci-ssvep-exo", overrides={**EXO_TINY, "dataset.params.root": str(root)}, run_dir=tmp_path / "run"
    )
    assert result.metrics["n_subjects"] == 1
    assert "fbcca.acc@1" in result.metrics and not [key for key in result.metrics if "_se@" in key]
    report = (result.run_dir / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and ", T = 1 s" in line]
    assert len(rows) == 5  # DNN, DNN stage 1, FBCCA, TRCA, ensemble TRCA
    for row in rows:
        assert "±" not in row and row.count("(1 subject, no SE)") == 2, row
    acc = f"{100 * result.metrics['fbcca.acc@1']:.2f} (1 subject, no SE)"
    assert any(row.startswith("| FBCCA (training-free), T = 1 s | " + acc) for row in rows)
    assert "± 0.0" not in report and "mean ± SE" not in report.replace(ACC_COLUMN, "").replace(ITR_COLUMN, "")
    assert "one subject: no standard error" in report and "mne data: 1 subject, 2 blocks," in report


def test_conformance_of_every_component_and_pipeline(tmp_path: Path) -> None:
    # the real exoskeleton sample when it is there, else recordings in its layout
    exo = EXO if EXO.is_dir() else _exoskeleton_like_folder(tmp_path / "exo")
    benchmark = tmp_path / "benchmark"
    # three blocks: one held out leaves the two per class ensemble TRCA needs (as in the plugin's tiny runs)
    simulate_benchmark(benchmark, n_subjects=1, seed=0, n_blocks=3)
    report = check_plugin(
        "bci-ssvep",
        pipeline_overrides={
            "bci-ssvep": {"dataset.params.n_subjects": 1, "dataset.params.n_blocks": 3},
            "bci-ssvep-benchmark": {"dataset.params.root": str(benchmark)},
            "bci-ssvep-beta": {"dataset.params.root": str(_beta_folder(tmp_path / "beta"))},
            "bci-ssvep-exo": {"dataset.params.root": str(exo)},
        },
    )
    assert sorted(report.datasets) == sorted(
        ["bci-ssvep.simulated-benchmark", "bci-ssvep.benchmark", "bci-ssvep.beta", "bci-ssvep.mne-recordings"]
    )
    assert report.models == ["bci-ssvep.guney-dnn"] and report.tasks == ["bci-ssvep.speller"]
