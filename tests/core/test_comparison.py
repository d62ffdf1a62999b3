"""``pipeline compare``: runs, sweeps and folders of runs side by side, from the files the runs wrote."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import sciconv
from sciconv import cli
from sciconv.comparison import TRANSPOSE_ABOVE, compare
from sciconv.errors import ConfigError, NotFoundError
from sciconv.yamlio import dump_yaml

CONFIG: dict[str, Any] = {
    "name": "demo-signal",
    "task": {"name": "demo.classify", "params": {}},
    "dataset": {"name": "demo.oscillations", "params": {"n_trials": 60}},
    "model": {"name": "demo.cnn1d", "params": {"n_filters": 16, "n_blocks": 3}},
    "train": {"epochs": 1, "lr": 0.003, "seed": 0, "progress": True},
}


def make_run(
    path: Path,
    changes: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    status: str = "completed",
    record: dict[str, Any] | None = None,
) -> Path:
    """A run directory as the runner writes it (config.yaml, status.json, metrics.json), without running."""
    config = copy.deepcopy(CONFIG)
    for dotted, value in (changes or {}).items():
        node = config
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    if record is not None:
        config["record"] = record
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(dump_yaml(config))
    (path / "status.json").write_text(json.dumps({"status": status, "pipeline": "demo-signal", "wall_time_s": 2.5}))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = make_run(tmp_path / "runs" / "a", {"train.lr": 0.01}, {"test.accuracy": 0.5, "test.loss": 1.2, "fit_s": 3.0})
    b = make_run(
        tmp_path / "runs" / "b",
        {"model.params.n_filters": 8},
        {"test.accuracy": 0.75, "test.loss": 0.9, "extra": 1.0},
        record={"resumes": [{"resumed": "now", "changes": {}, "after_epoch": {}}]},
    )
    return a, b


def test_two_runs_side_by_side(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    comparison = compare(a, b)
    assert comparison.labels == ["a", "b"]
    assert comparison.metrics == {
        "test.accuracy": {"a": 0.5, "b": 0.75},
        "test.loss": {"a": 1.2, "b": 0.9},
        "fit_s": {"a": 3.0},
        "extra": {"b": 1.0},
    }
    assert comparison.config_differences == {
        "model.params.n_filters": {"a": 16, "b": 8},
        "train.lr": {"a": 0.01, "b": 0.003},
    }  # record.* (the runner's notes) is not a setting
    assert comparison.same == 10
    md = comparison.to_markdown()
    assert md.startswith("# Comparison of 2 runs\n")
    assert "| a | demo-signal | completed | 2.5 |" in md
    assert "| metric | a | b |" in md and "| `test.accuracy` | 0.5 | 0.75 |" in md
    assert "| `fit_s` | 3 |  |" in md  # blank where a run lacks the metric
    assert "| setting | a | b |" in md and "| `train.lr` | 0.01 | 0.003 |" in md
    assert "10 settings are the same in every run." in md
    assert comparison.table.loc["b", "extra"] == 1.0


def test_metric_globs_and_the_json_form(two_runs: tuple[Path, Path], capsys) -> None:
    a, b = two_runs
    assert list(compare([a, b], metrics=["test.*"]).metrics) == ["test.accuracy", "test.loss"]
    code = cli.main(["compare", str(a), str(b), "--json", "--metrics", "test.acc*", "extra"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert code == 0
    assert [run["label"] for run in data["runs"]] == ["a", "b"] and data["runs"][0]["path"] == str(a.resolve())
    assert data["metrics"] == {"test.accuracy": {"a": 0.5, "b": 0.75}, "extra": {"b": 1.0}}
    assert data["config_differences"]["train.lr"] == {"a": 0.01, "b": 0.003} and data["same"] == 10


def test_cli_prints_markdown_or_writes_it(two_runs: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    a, b = two_runs
    assert cli.main(["compare", str(a), str(b)]) == 0
    out, _ = capsys.readouterr()
    assert "## Configuration differences" in out and "`model.params.n_filters`" in out
    target = tmp_path / "cmp.md"
    target.write_text("old")
    assert cli.main(["compare", str(a.parent), "--out", str(target)]) == 0  # the folder of runs
    out, _ = capsys.readouterr()
    assert out.strip() == f"comparison of 2 runs: {target}"
    assert target.read_text().startswith("# Comparison of 2 runs")


def test_folders_and_sweeps_expand_to_their_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs" / "demo-signal"
    for name in ("20260102-000000", "20260101-000000"):
        make_run(runs / name, metrics={"test.accuracy": 0.5})
    (runs / "not-a-run").mkdir()
    sweep = runs / "sweep-1"
    (sweep / "points").mkdir(parents=True)
    points = [
        {"index": i, "name": f"00{i}-lr-{lr}", "overrides": {"train.lr": lr}} for i, lr in enumerate([0.1, 0.2, 0.3])
    ]
    (sweep / "sweep.yaml").write_text(dump_yaml({"sweep": 1, "points": points}))
    make_run(sweep / "points" / "000-lr-0.1", {"train.lr": 0.1}, {"test.accuracy": 0.25})
    make_run(sweep / "points" / "001-lr-0.2", {"train.lr": 0.2}, status="failed")  # failed: no metrics
    # 002 never ran: no run directory

    comparison = compare(runs, sweep)
    assert comparison.labels == ["20260101-000000", "20260102-000000", "sweep-1/000-lr-0.1", "sweep-1/001-lr-0.2"]
    assert [run.status for run in comparison.runs] == ["completed", "completed", "completed", "failed"]
    assert comparison.metrics["test.accuracy"] == {
        "20260101-000000": 0.5,
        "20260102-000000": 0.5,
        "sweep-1/000-lr-0.1": 0.25,
    }
    assert comparison.config_differences["train.lr"]["sweep-1/001-lr-0.2"] == 0.2
    assert len(compare(runs, runs / "20260101-000000").runs) == 2  # a run named twice counts once


def test_equal_names_are_told_apart_by_their_parents(tmp_path: Path) -> None:
    one = make_run(tmp_path / "x" / "a" / "run", metrics={})
    two = make_run(tmp_path / "y" / "a" / "run", metrics={})
    three = make_run(tmp_path / "z" / "other", metrics={})
    assert compare(one, two, three).labels == ["x/a/run", "y/a/run", "other"]


def test_many_runs_are_one_row_each(tmp_path: Path) -> None:
    runs = [
        make_run(tmp_path / f"r{i}", {"train.seed": i}, {"test.accuracy": i / 10}) for i in range(TRANSPOSE_ABOVE + 1)
    ]
    md = compare(*runs).to_markdown()
    assert "| run | `test.accuracy` |" in md and "| r3 | 0.3 |" in md
    assert "| run | `train.seed` |" in md and "| r6 | 6 |" in md


def test_errors_name_the_directory(tmp_path: Path, two_runs: tuple[Path, Path], capsys) -> None:
    a, _ = two_runs
    with pytest.raises(ConfigError, match="at least 2 runs, found 1"):
        compare(a)
    with pytest.raises(NotFoundError, match="missing: no such directory"):
        compare(a, tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    code = cli.main(["compare", str(a), str(empty)])
    _, err = capsys.readouterr()
    assert code == 2 and f"error: {empty}: neither a run directory" in err
    code = cli.main(["compare", str(a)])
    _, err = capsys.readouterr()
    assert code == 2 and "needs at least 2 runs" in err and "Traceback" not in err


def test_the_package_function_stays_itself_once_the_module_is_imported(two_runs: tuple[Path, Path]) -> None:
    import importlib
    import inspect

    importlib.import_module("sciconv.comparison")
    assert inspect.isfunction(sciconv.compare) and sciconv.compare(*two_runs).labels == ["a", "b"]
