"""The run's ``report.md`` and its standard plots.

The report says what ran (pipeline, components and their parameters, the data, the model's size,
training settings, versions, time), the results table (this run's methods and baselines, and published
reference numbers labelled with their source), the task's own sections, and embeds the plots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sciconv.components import ResultRow, table_metric_names


def plot_training_curves(
    history: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    kept_epochs: Mapping[str, int] | None = None,
    chance: float | None = None,
) -> Path | None:
    """Plot every per-epoch quantity of ``history`` against the epoch, one panel per quantity and one line per
    fit; returns the PNG written, or ``None`` when there is nothing to plot.

    ``kept_epochs`` (fit name -> epoch) marks the epoch whose weights each fit kept (early stopping's best
    epoch) with a dotted vertical line; ``chance`` draws the chance level on accuracy panels.
    """
    skip = {"fit", "epoch", "lr", "time_s"}
    keys: list[str] = []
    for row in history:
        for key, value in row.items():
            if key not in skip and key not in keys and isinstance(value, (int, float)):
                keys.append(key)
    if not history or not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = [k for k in keys if k.endswith("loss")]
    others = [k for k in keys if k not in losses]
    panels: list[list[str]] = ([losses] if losses else []) + [[k] for k in others]
    fits: list[str] = []
    for row in history:
        if row.get("fit") not in fits:
            fits.append(row.get("fit"))
    kept = {fit: epoch for fit, epoch in (kept_epochs or {}).items() if fit in fits}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for key in panel:
            for fit in fits:
                rows = [r for r in history if r.get("fit") == fit and isinstance(r.get(key), (int, float))]
                if not rows:
                    continue
                label = key if len(fits) == 1 else (f"{fit}: {key}" if len(panel) > 1 else str(fit))
                ax.plot(
                    [r["epoch"] for r in rows],
                    [r[key] for r in rows],
                    label=label if len(fits) <= 12 else None,
                )
        if len(kept) <= 12:  # more fits than that (subjects, folds) would hide the curves
            for fit, epoch in kept.items():
                name = f"kept epoch {epoch}" if len(kept) == 1 else f"{fit}: kept epoch {epoch}"
                ax.axvline(epoch, color="0.35", linestyle=":", linewidth=1, label=name if ax is axes[0][0] else None)
        title = "loss" if panel is losses else panel[0]
        if chance is not None and "acc" in title:
            ax.axhline(chance, color="0.5", linestyle="--", linewidth=1, label=f"chance ({chance:.3g})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_axis_label(panel))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _axis_label(panel: Sequence[str]) -> str:
    """The y-axis label of a panel: the loss (training and validation), or the metric's name."""
    if all(k.endswith("loss") for k in panel):
        return "loss (training objective)"
    name = panel[0].removeprefix("val_").replace("_", " ")
    return f"validation {name}" if panel[0].startswith("val_") else name


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG through a temporary file and a rename (never half a file),
    close it, and return ``path``. Tasks use it for the figures they add to the report."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path


def format_number(value: Any) -> str:
    """Compact display: 4 significant decimals for fractions, thousands for big counts."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.4g}"


def results_table(rows: Sequence[ResultRow]) -> str:
    """A markdown table: one row per method, one column per metric, and the numbers' source."""
    if not rows:
        return "_The task reported no results table._\n"
    names = table_metric_names(rows)
    lines = [
        "| method | " + " | ".join(names) + " | source |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for row in rows:
        cells = [format_number(row.metrics[n]) if n in row.metrics else "" for n in names]
        source = f"published: {row.source}" if row.published else row.source
        lines.append(f"| {row.method} | " + " | ".join(cells) + f" | {source} |")
    return "\n".join(lines) + "\n"


def _params(params: Mapping[str, Any]) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"`{k}={v!r}`" for k, v in params.items())


def _resume_line(resume: Mapping[str, Any]) -> str:
    """One ``--resume`` of the run: when, where each fit was, and what it changed."""
    where = ", ".join(f"epoch {epoch} of `{fit}`" for fit, epoch in resume.get("after_epoch", {}).items())
    changes = ", ".join(f"{key} {before} → {after}" for key, (before, after) in resume.get("changes", {}).items())
    return (
        f"- **Resumed** {resume.get('resumed', '?')}, "
        + (f"after {where}" if where else "before any fit had a checkpoint")
        + (f"; changed from then on: {changes}" if changes else "; no setting changed")
    )


def render_report(
    *,
    config: Mapping[str, Any],
    status: Mapping[str, Any],
    summary: Mapping[str, Any],
    table: Sequence[ResultRow],
    metrics: Mapping[str, Any],
    sections: Mapping[str, str],
    plots: Sequence[tuple[str, str]],
) -> str:
    """The whole ``report.md`` text. ``plots`` are ``(relative path, caption)`` pairs."""
    title = config.get("name") or "pipeline"
    out = [f"# {title}", ""]
    if config.get("description"):
        out += [str(config["description"]), ""]
    replaced = summary.get("replaced_model")
    if isinstance(replaced, Mapping):
        out += [
            f"_In this run the pipeline's model `{replaced['pipeline']}` was replaced by `{replaced['ran']}` (a "
            "network given in Python): where the description above names the pipeline's model, read this one._",
            "",
        ]
    out += [
        f"Run {status.get('started', '?')}, {status.get('status', '?')} in {status.get('wall_time_s', 0):.1f} s "
        f"on {status.get('device', '?')}; sciconv {status.get('sciconv', '?')}, torch {status.get('torch', '?')}, "
        f"seed {config.get('train', {}).get('seed')}.",
        "",
        "## What ran",
        "",
        f"- **Task** `{config['task']['name']}`: {_params(config['task'].get('params', {}))}",
        f"- **Dataset** `{config['dataset']['name']}`: {_params(config['dataset'].get('params', {}))}",
        f"- **Model** `{config['model']['name']}`: {_params(config['model'].get('params', {}))}"
        + (
            ""
            if summary.get("pipeline_model_used", True)
            else " (not built: the task trained other networks, see below)"
        ),
    ]
    if "spec" in summary:
        spec = summary["spec"]
        shape = tuple(spec["input_shape"])
        line = f"- **Data**: samples of shape {shape}, {spec['n_outputs']} outputs ({spec['task_type']})"
        if spec.get("sfreq"):
            line += f", {spec['sfreq']:g} Hz"
        if spec.get("units"):
            line += f", {spec['units']}"
        if spec.get("classes"):
            classes = [str(c) for c in spec["classes"]]
            shown = ", ".join(classes if len(classes) <= 12 else [*classes[:10], "...", classes[-1]])
            line += f"; classes: {shown}"
        out.append(line)
    if "splits" in summary:
        out.append("- **Splits**: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    counts = sorted(summary.get("n_parameters", []))
    if len(counts) == 1:
        out.append(f"- **Model size**: {counts[0]:,} trainable parameters")
    elif counts:
        out.append(
            f"- **Model size**: {counts[0]:,} to {counts[-1]:,} trainable parameters "
            f"({len(counts)} input shapes were used)"
        )
    train = config.get("train", {})
    es = train.get("early_stopping", {})
    stopping = (
        f"early stopping on {es.get('monitor')} (patience {es.get('patience')})"
        if es.get("patience")
        else "no early stopping"
    )
    if summary.get("train_settings_used", True):
        out.append(
            f"- **Training**: {train.get('optimizer')} lr {train.get('lr')}, weight decay {train.get('weight_decay')}, "
            f"batch {train.get('batch_size')}, up to {train.get('epochs')} epochs, {stopping}; "
            f"conv backend `{config.get('conv', {}).get('backend')}`"
        )
    else:
        out.append(
            f"- **Training**: with the task's own settings (see below); of the `train` section only the seed "
            f"({train.get('seed')}) was used; conv backend `{config.get('conv', {}).get('backend')}`"
        )
    record = config.get("record") or {}
    for resume in record.get("resumes", []):
        out.append(_resume_line(resume))
    if summary.get("resumed") and not record.get("resumes"):
        out.append(f"- **Resumed** from checkpoints: {summary['resumed']}")
    for kind, why in record.get("not_repeatable", {}).items():
        out.append(f"- **Not repeatable from the command line**: the {kind} {why}")
    out += ["", "## Results", "", results_table(table)]
    if any(r.published for r in table):
        out += [
            "Rows marked *published* quote the cited paper for comparison; they were not measured by this run.",
            "",
        ]
    out += ["All final metrics are in `metrics.json`:", "", "| metric | value |", "|---|---|"]
    out += [f"| `{k}` | {format_number(v)} |" for k, v in metrics.items()]
    out.append("")
    for heading, body in sections.items():
        out += [f"## {heading}", "", body.rstrip(), ""]
    if plots:
        out += ["## Plots", ""]
        for rel, caption in plots:
            out += [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    out += [
        "## Files",
        "",
        (
            "`config.yaml` (re-run with `pipeline run config.yaml`)"
            if not record.get("not_repeatable")
            else "`config.yaml` (what ran; this run cannot be repeated from the command line, see above)"
        )
        + ", `metrics.json`, `history.csv`, `plots/`, `checkpoints/` (safetensors weights per fit).",
        "",
    ]
    return "\n".join(out)
