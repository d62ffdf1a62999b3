"""Sweeps: a grid (or random points) of demo-signal runs, each a run directory, tabled, plotted, resumable."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

import sciconv
from sciconv import cli
from sciconv.errors import ConfigError
from sciconv.sweeps import (
    Axis,
    Range,
    as_axes,
    default_metric,
    grid_points,
    metric_direction,
    parse_axis,
    plan_sweep,
    point_name,
    random_points,
    split_values,
    sweep,
)
from sciconv.yamlio import read_yaml

# a run in about a second: one epoch of the smallest data set and network (no training-curve plots)
TINY = {
    "train.epochs": 1,
    "dataset.params.n_trials": 20,
    "model.params.n_blocks": 1,
    "train.progress": False,
    "output.plots": False,
}
TINY_ARGS = [f"{k}={json.dumps(v)}" for k, v in TINY.items() if k != "model.params.n_blocks"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def quiet(message: str) -> None:
    pass


# --- axes and points, without running anything -------------------------------------------------


def test_values_split_on_commas_outside_brackets_and_quotes() -> None:
    assert split_values("[8,16],[16,32]") == ["[8,16]", "[16,32]"]
    assert split_values("{a: 1, b: 2},3") == ["{a: 1, b: 2}", "3"]
    assert split_values("'a,b',\"c,d\",e") == ["'a,b'", '"c,d"', "e"]
    axis = parse_axis("model.params.widths=[8,16],[16,32]")
    assert axis == Axis("model.params.widths", values=([8, 16], [16, 32]))
    assert parse_axis("train.lr=1e-3, 3e-3").values == (0.001, 0.003)  # YAML values, 1e-3 a number
    assert parse_axis("train.optimizer=adam").values == ("adam",)  # one value is fine
    for bad in ("train.lr=1,,2", "x=[1,2", "x=1]", "noequals", "x.=1"):
        with pytest.raises(ConfigError, match="--sweep"):
            parse_axis(bad)


def test_ranges() -> None:
    assert parse_axis("train.lr=1e-4..1e-2:log").range == Range(1e-4, 1e-2, log=True)
    assert parse_axis("model.params.n_filters=2..8").range == Range(2, 8, integer=True)
    assert parse_axis("x=0.5..1").range == Range(0.5, 1.0)
    with pytest.raises(ConfigError, match="both ends positive"):
        parse_axis("train.lr=0..1:log")
    with pytest.raises(ConfigError, match="lower to a higher"):
        parse_axis("x=3..1")
    with pytest.raises(ConfigError, match="cannot be listed"):
        parse_axis("x=1..2,5")
    with pytest.raises(ConfigError, match=r"train\.lr=0\.0001\.\.0\.01:log.*--sweep-random N"):
        grid_points(as_axes(["train.lr=1e-4..1e-2:log"]))
    with pytest.raises(ConfigError, match="swept twice"):
        as_axes(["x=1,2", "x=3"])


def test_random_points_are_within_their_ranges_and_reproducible() -> None:
    axes = as_axes(
        {"lr": "1e-4..1e-2:log", "n": "2..8", "wd": Range(0.0, 0.5), "opt": ["adam", "sgd"], "k": "1..1000:log"}
    )
    points = random_points(axes, 60, seed=3)
    assert len(points) == 60
    assert points == random_points(axes, 60, seed=3)
    assert points != random_points(axes, 60, seed=4)
    for p in points:
        assert 1e-4 <= p["lr"] <= 1e-2 and isinstance(p["lr"], float)
        assert isinstance(p["n"], int) and 2 <= p["n"] <= 8
        assert 0.0 <= p["wd"] <= 0.5
        assert p["opt"] in ("adam", "sgd")
        assert isinstance(p["k"], int) and 1 <= p["k"] <= 1000
    assert {p["n"] for p in points} == set(range(2, 9))  # both ends are drawn
    logs = [math.log10(p["lr"]) for p in points]
    assert min(logs) < -3.3 and max(logs) > -2.7  # log-uniform: spread over both decades
    with pytest.raises(ConfigError, match="positive number"):
        random_points(axes, 0, seed=0)


def test_point_names_are_short_and_filesystem_safe() -> None:
    assert point_name(1, {"model.params.n_filters": 8, "train.lr": 0.003}) == "001-n_filters-8_lr-0.003"
    name = point_name(12, {"model.params.widths": [8, 16], "dataset.params.root": "/data/x y"}, width=4)
    assert name == "0012-widths-8-16_root-data-x-y"
    assert point_name(0, {"a.x": 1, "b.x": 2}) == "000-a.x-1_b.x-2"  # the same last part: the full keys
    assert len(point_name(0, {"k": "v" * 500})) <= 64


def test_default_metric_and_its_direction() -> None:
    metrics = {"train_seconds": 3.0, "fit_s": 1.0, "ms_per_batch": 2.0, "test.accuracy": 0.9, "test.loss": 0.3}
    assert default_metric(metrics) == "test.accuracy"
    assert default_metric({"wall_time": 1.0, "note": "x"}) is None
    assert metric_direction("test.accuracy") == "max"
    assert [metric_direction(k) for k in ("val_loss", "test.rmse", "nrmse", "abs_error", "mae")] == ["min"] * 5
    assert metric_direction("test.loss", "max") == "max"


def test_random_plan_is_validated_and_seeded_by_train_seed() -> None:
    axes = ["train.lr=1e-4..1e-2:log", "model.params.n_filters=2..8", "train.optimizer=adam,sgd"]
    plan = plan_sweep("demo-signal", axes, TINY, random=5)
    assert plan.sampling == "random" and plan.seed == 0 and len(plan.points) == 5
    assert [p.overrides for p in plan.points] == [
        p.overrides for p in plan_sweep("demo-signal", axes, TINY, random=5).points
    ]
    other = plan_sweep("demo-signal", axes, {**TINY, "train.seed": 7}, random=5)
    assert other.seed == 7 and [p.overrides for p in other.points] != [p.overrides for p in plan.points]


# --- refused before anything is written ----------------------------------------------------------


@pytest.mark.parametrize(
    ("axes", "overrides", "message"),
    [
        ({"train.epoch": [1, 2]}, TINY, "unknown key 'train.epoch'"),
        ({"model.params.n_filter": [1, 2]}, TINY, "n_filter"),
        (
            {"train.epochs": [1, "abc"]},
            {},
            "train.epochs",
        ),  # the second point's value is refused, before the first runs
        ({"train.lr": "1e-4..1e-2"}, TINY, "--sweep-random N"),
        ({"train.epochs": [1, 2]}, TINY, "both as a fixed override and as a --sweep axis"),
    ],
)
def test_bad_sweeps_write_nothing(tmp_path: Path, axes: Any, overrides: Any, message: str) -> None:
    root = tmp_path / "root"
    with pytest.raises(ConfigError, match=message):
        sweep("demo-signal", axes, {**overrides, "output.root": str(root)}, log=quiet)
    with pytest.raises(ConfigError, match=message):
        sweep("demo-signal", axes, overrides, sweep_dir=tmp_path / "given", log=quiet)
    assert not root.exists() and not (tmp_path / "given").exists()


# --- running -------------------------------------------------------------------------------------


def test_grid_sweep_writes_a_run_per_point_and_the_table(tmp_path: Path) -> None:
    lines: list[str] = []
    result = sweep(
        "demo-signal",
        ["model.params.n_filters=2,3", "train.lr=0.01,0.003"],
        {**TINY, "output.plots": True},
        sweep_dir=tmp_path / "sw",
        log=lines.append,
    )
    directory = tmp_path / "sw"
    assert result.sweep_dir == directory and result.metric == "test.accuracy" and result.mode == "max"
    points = sorted(p.name for p in (directory / "points").iterdir())
    assert points == [
        "000-n_filters-2_lr-0.01",
        "001-n_filters-2_lr-0.003",
        "002-n_filters-3_lr-0.01",
        "003-n_filters-3_lr-0.003",
    ]
    assert len([line for line in lines if ": completed, test.accuracy=" in line]) == 4

    rows = read_csv(directory / "sweep.csv")
    assert [r["point"] for r in rows] == points
    assert list(rows[0])[:6] == ["point", "status", "run_dir", "model.params.n_filters", "train.lr", "wall_time_s"]
    assert [(r["model.params.n_filters"], r["train.lr"]) for r in rows] == [
        ("2", "0.01"),
        ("2", "0.003"),
        ("3", "0.01"),
        ("3", "0.003"),
    ]
    for row, flat in zip(rows, result.rows, strict=True):
        run = directory / row["run_dir"]
        assert row["status"] == "completed" and row["error"] == ""
        metrics = json.loads((run / "metrics.json").read_text())
        assert {k: float(row[k]) for k in metrics} == metrics
        assert {k: flat[k] for k in metrics} == metrics
        config = read_yaml(run / "config.yaml")
        assert config["model"]["params"]["n_filters"] == flat["model.params.n_filters"]
        assert config["train"]["lr"] == flat["train.lr"] and config["train"]["epochs"] == 1
    assert result.best is not None
    best_value = max(r["test.accuracy"] for r in result.rows)
    assert result.best["test.accuracy"] == best_value
    assert result.table.shape[0] == 4

    plan = read_yaml(directory / "sweep.yaml")
    assert plan["target"] == "demo-signal" and plan["sampling"] == "grid"
    assert plan["overrides"] == {**TINY, "output.plots": True}
    assert plan["axes"] == {"model.params.n_filters": [2, 3], "train.lr": [0.01, 0.003]}
    assert [p["overrides"] for p in plan["points"]][1] == {"model.params.n_filters": 2, "train.lr": 0.003}
    assert plan["runs"]["workers"] == 1 and plan["runs"]["point_overrides"] == {}

    md = (directory / "sweep.md").read_text()
    assert "| point | status | model.params.n_filters | train.lr | test.accuracy |" in md
    assert "## Best point" in md and f"**{result.best['point']}**" in md
    assert "![test.accuracy against each swept key" in md and "(plots/sweep_test.accuracy.png)" in md
    assert (directory / "plots" / "sweep_test.accuracy.png").stat().st_size > 1000

    # the points compare side by side: they differ only in the swept keys
    comparison = sciconv.compare(directory)
    assert [run.label for run in comparison.runs] == [f"sw/{p}" for p in points]
    assert set(comparison.config_differences) == {"model.params.n_filters", "train.lr"}


def test_points_in_parallel_give_the_serial_metrics(tmp_path: Path) -> None:
    fixed = {**TINY, "parallel.threads_per_job": 1}
    axes = {"model.params.n_filters": [2, 3]}
    serial = sweep("demo-signal", axes, fixed, sweep_dir=tmp_path / "serial", log=quiet)
    parallel = sweep("demo-signal", axes, {**fixed, "parallel.n_jobs": 2}, sweep_dir=tmp_path / "parallel", log=quiet)
    keys = [k for k in serial.rows[0] if k not in ("run_dir", "wall_time_s")]
    assert [{k: r[k] for k in keys} for r in parallel.rows] == [{k: r[k] for k in keys} for r in serial.rows]
    runs = read_yaml(tmp_path / "parallel" / "sweep.yaml")["runs"]
    assert runs["workers"] == 2 and runs["threads_per_job"] == 1
    assert runs["point_overrides"] == {"parallel.n_jobs": 1, "train.progress": False}
    config = read_yaml(tmp_path / "parallel" / "points" / "000-n_filters-2" / "config.yaml")
    assert config["parallel"]["n_jobs"] == 1
    assert "2 points at a time" in (tmp_path / "parallel" / "sweep.md").read_text()


def test_resume_runs_only_the_unfinished_points(tmp_path: Path) -> None:
    directory = tmp_path / "sw"
    first = sweep("demo-signal", {"model.params.n_filters": [2, 3, 4]}, TINY, sweep_dir=directory, log=quiet)
    assert [r["status"] for r in first.rows] == ["completed"] * 3
    done, interrupted, empty = (directory / "points" / r["point"] for r in first.rows)
    kept = (done / "metrics.json").stat().st_mtime_ns
    # one point was interrupted after a checkpoint, one left a folder without any (as a run that failed at once)
    import shutil

    status = json.loads((interrupted / "status.json").read_text())
    (interrupted / "status.json").write_text(json.dumps({**status, "status": "interrupted"}))
    shutil.rmtree(empty)
    empty.mkdir()
    (empty / "status.json").write_text(json.dumps({"status": "failed"}))

    lines: list[str] = []
    again = sciconv.sweep(resume=directory, log=lines.append)
    assert (done / "metrics.json").stat().st_mtime_ns == kept  # untouched
    assert "2 of 3 points to run" in "\n".join(lines)
    assert any(line.startswith(f"{done.name}: completed") and "(earlier)" in line for line in lines)
    assert [r["status"] for r in again.rows] == ["completed"] * 3
    assert [r["test.accuracy"] for r in again.rows] == [r["test.accuracy"] for r in first.rows]
    record = read_yaml(interrupted / "config.yaml").get("record", {})
    assert len(record["resumes"]) == 1  # continued from its checkpoint, not started again
    assert "record" not in read_yaml(empty / "config.yaml")  # replaced: run afresh
    assert (empty / "metrics.json").is_file()
    assert len(read_yaml(directory / "sweep.yaml")["resumes"]) == 1
    assert [r["status"] for r in read_csv(directory / "sweep.csv")] == ["completed"] * 3

    with pytest.raises(ConfigError, match=r"cannot change train\.epochs"):
        sweep(resume=directory, overrides={"train.epochs": 3}, log=quiet)
    with pytest.raises(ConfigError, match=r"not empty.*--resume"):
        sweep("demo-signal", {"train.lr": [0.01]}, TINY, sweep_dir=directory, log=quiet)


def test_the_package_function_stays_itself_once_the_module_is_imported() -> None:
    import importlib
    import inspect

    importlib.import_module("sciconv.sweeps")
    assert inspect.isfunction(sciconv.sweep)
    with pytest.raises(ConfigError, match="at least one axis"):
        sciconv.sweep("demo-signal", {}, TINY, log=quiet)


# --- the command line ----------------------------------------------------------------------------


def test_cli_sweep_reports_each_point_and_fails_for_a_failed_point(tmp_path: Path, capsys) -> None:
    directory = tmp_path / "sw"
    args = ["run", "demo-signal", *TINY_ARGS, "--run-dir", str(directory), "--sweep", "model.params.n_blocks=1,9"]
    code = cli.main([*args, "--sweep-metric", "test.loss"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[0].startswith("000-n_blocks-1: completed, test.loss=")
    assert "001-n_blocks-9: failed (RuntimeError" in out  # 9 poolings of 256 samples: fails only when it runs
    assert f"sweep: {directory / 'sweep.md'}" in out
    assert "best: 000-n_blocks-1 (test.loss=" in out and "minimum of the sweep" in out
    error = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "1 of 2 sweep points failed: 001-n_blocks-9" in error[0] and str(directory) in error[0]
    rows = read_csv(directory / "sweep.csv")
    assert [r["status"] for r in rows] == ["completed", "failed"] and "max_pool1d" in rows[1]["error"]
    assert "| error |" in (directory / "sweep.md").read_text()

    # a metric that the pipeline does not report: refused naming the ones it does (the earlier point is enough)
    code = cli.main(["run", "--resume", str(directory), "--sweep-metric", "accuracy"])
    _, err = capsys.readouterr()
    assert code == 2 and "--sweep-metric accuracy: not a metric" in err and "test.accuracy, test.loss" in err
    assert read_yaml(directory / "sweep.yaml")["metric"] == "test.loss"  # refused before anything changed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "demo-signal", "--sweep-random", "3"], "--sweep-random needs --sweep"),
        (["run", "demo-signal", "--sweep", "train.lr=1,2", "--nproc", "2"], "--nproc cannot be used with a sweep"),
        (["run", "demo-signal", "--sweep", "train.lr=1e-4..1e-2"], "needs --sweep-random N"),
        (["run", "demo-signal", "--sweep", "train.lrr=1,2"], "did you mean 'lr'"),
    ],
)
def test_cli_sweep_usage_errors(tmp_path: Path, capsys, monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(args)
    _, err = capsys.readouterr()
    assert code == 2 and message in err, err
    assert list(tmp_path.iterdir()) == []
