"""The run's report says only what ran, and its curves can be read on their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sciconv.report
from sciconv.report import plot_training_curves, render_report

HISTORY = [
    {"fit": "model", "epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_accuracy": 0.3 + 0.1 * e}
    for e in range(1, 6)
]
CONFIG: dict[str, Any] = {
    "name": "p",
    "task": {"name": "t.task", "params": {}},
    "dataset": {"name": "t.data", "params": {"n": 3}},
    "model": {"name": "t.cnn", "params": {"width": 8}},
    "train": {"optimizer": "adam", "lr": 0.001, "epochs": 5, "seed": 7, "early_stopping": {}},
    "conv": {"backend": "torch"},
}


def test_training_curves_have_axis_labels_the_kept_epoch_and_chance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []
    real_save = sciconv.report.save_figure

    def keep(fig: Any, path: Path, dpi: int = 110) -> Path:
        figures.append(fig)
        return real_save(fig, path, dpi)

    monkeypatch.setattr(sciconv.report, "save_figure", keep)
    path = plot_training_curves(HISTORY, tmp_path / "curves.png", kept_epochs={"model": 3}, chance=0.25)
    assert path is not None and path.is_file()
    loss_ax, acc_ax = figures[0].axes
    assert loss_ax.get_ylabel() == "loss (training objective)"
    assert acc_ax.get_ylabel() == "validation accuracy"
    for ax in (loss_ax, acc_ax):
        kept = [line for line in ax.get_lines() if list(line.get_xdata()) == [3, 3]]
        assert kept, "the kept epoch is marked on every panel"
    chance = [line for line in acc_ax.get_lines() if list(line.get_ydata()) == [0.25, 0.25]]
    assert chance and "chance" in chance[0].get_label()
    assert not [line for line in loss_ax.get_lines() if list(line.get_ydata()) == [0.25, 0.25]]
    labels = acc_ax.get_legend_handles_labels()[1] + loss_ax.get_legend_handles_labels()[1]
    assert "kept epoch 3" in labels and "chance (0.25)" in labels


def report(summary: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    return render_report(
        config=config or CONFIG,
        status={"status": "completed", "wall_time_s": 1.0},
        summary=summary,
        table=[],
        metrics={"x": 1.0},
        sections={},
        plots=[],
    )


def test_what_ran_does_not_claim_the_model_or_training_a_task_did_not_use() -> None:
    used = report({"pipeline_model_used": True, "train_settings_used": True})
    assert "- **Model** `t.cnn`: `width=8`\n" in used and "adam lr 0.001" in used
    unused = report({"pipeline_model_used": False, "train_settings_used": False})
    assert "`t.cnn`: `width=8` (not built: the task trained other networks, see below)" in unused
    assert "adam lr 0.001" not in unused and "only the seed (7) was used" in unused


def test_report_shows_the_run_record() -> None:
    config = {
        **CONFIG,
        "record": {
            "not_repeatable": {"dataset": "it is MyData, defined in the script that ran (module '__main__')"},
            "resumes": [
                {"resumed": "2026-12-07 10:00:00", "changes": {"train.epochs": [5, 8]}, "after_epoch": {"model": 5}},
                {"resumed": "2026-12-07 11:00:00", "changes": {}, "after_epoch": {}},
            ],
        },
    }
    text = report({}, config)
    first = "- **Resumed** 2026-12-07 10:00:00, after epoch 5 of `model`; changed from then on: train.epochs 5 → 8"
    assert first in text
    assert "- **Resumed** 2026-12-07 11:00:00, before any fit had a checkpoint; no setting changed" in text
    assert "**Not repeatable from the command line**: the dataset it is MyData" in text
    assert "re-run with `pipeline run config.yaml`" not in text
