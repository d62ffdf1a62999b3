"""Runs side by side: ``pipeline compare DIR [DIR ...]`` and :func:`sciconv.compare`.

Each ``DIR`` is one of:

- a run directory (``config.yaml`` and ``status.json``): one run;
- a sweep directory (``sweep.yaml``, see :mod:`sciconv.sweeps`): its points that have a run directory, in the
  sweep's order, labelled ``<sweep>/<point>``;
- a folder of run directories (``runs/demo-signal/``): the run directories directly inside it, sorted by
  name (sweep folders inside it are not expanded: name them on their own).

The comparison reads only the files the runs wrote (nothing is imported or re-run) and gives, for at least
two runs: what each run is (pipeline, status, wall time, path), their final metrics side by side, and the
settings of their resolved ``config.yaml`` that differ between them (``record.*``, what the runner notes
about a run, is left out), with the count of settings that are the same in every run. A run that did not
complete is included with its status and the metrics it has (usually none).

Tables keep one column per run up to :data:`TRANSPOSE_ABOVE` runs; with more runs they are transposed
(one row per run, one column per metric or setting), so that they stay readable.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_write_text
from sciconv.config import flatten_config
from sciconv.errors import ConfigError, NotFoundError
from sciconv.kit.tables import markdown_table
from sciconv.report import format_number
from sciconv.yamlio import read_yaml

SWEEP_FILE = "sweep.yaml"
"""The file that makes a folder a sweep directory (written by :mod:`sciconv.sweeps`)."""

TRANSPOSE_ABOVE = 6
"""With more runs than this, the metric and configuration tables have one row per run instead of one column."""


@dataclass
class ComparedRun:
    """One run of a comparison, as read from its run directory.

    ``metrics`` are the run's ``metrics.json`` (flat keys; empty when it has none), ``config`` its resolved
    ``config.yaml`` flattened to dotted keys (``train.lr``), without ``record.*``.
    """

    label: str
    path: Path
    pipeline: str
    status: str
    wall_time_s: float | None
    metrics: dict[str, Any]
    config: dict[str, Any]


@dataclass
class Comparison:
    """What :func:`compare` returns: the runs, their metrics and their differing settings.

    ``metrics`` maps each metric key (in first-seen order, filtered by ``metrics=`` globs) to
    ``{label: value}`` for the runs that have it; ``config_differences`` maps each dotted setting whose value
    is not the same in every run to ``{label: value}`` (a run that lacks the setting is left out);
    ``same`` counts the settings equal in every run.
    """

    runs: list[ComparedRun]
    metrics: dict[str, dict[str, Any]]
    config_differences: dict[str, dict[str, Any]]
    same: int

    @property
    def labels(self) -> list[str]:
        return [run.label for run in self.runs]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as ``pipeline compare --json`` prints it."""
        return {
            "runs": [
                {
                    "label": run.label,
                    "path": str(run.path),
                    "pipeline": run.pipeline,
                    "status": run.status,
                    "wall_time_s": run.wall_time_s,
                }
                for run in self.runs
            ],
            "metrics": self.metrics,
            "config_differences": self.config_differences,
            "same": self.same,
        }

    def to_markdown(self) -> str:
        """The comparison as a markdown document (runs, metrics, configuration differences)."""
        n = len(self.runs)
        out = [f"# Comparison of {n} runs", "", "## Runs", ""]
        out.append(
            markdown_table(
                [
                    {
                        "label": run.label,
                        "pipeline": run.pipeline,
                        "status": run.status,
                        "wall time (s)": run.wall_time_s,
                        "path": _shown_path(run.path),
                    }
                    for run in self.runs
                ]
            )
        )
        out += ["## Metrics", ""]
        if self.metrics:
            out.append(self._table("metric", {f"`{k}`": v for k, v in self.metrics.items()}, format_number))
        else:
            out += ["_No metric to show (no run has metrics.json, or none matches --metrics)._", ""]
        out += ["## Configuration differences", ""]
        if self.config_differences:
            out.append(self._table("setting", {f"`{k}`": v for k, v in self.config_differences.items()}, _setting))
        else:
            out += ["_The runs have the same configuration._", ""]
        out += [f"{self.same} setting{'s are' if self.same != 1 else ' is'} the same in every run.", ""]
        return "\n".join(out)

    def _table(self, what: str, values: Mapping[str, Mapping[str, Any]], shown: Any) -> str:
        """One row per key and one column per run, or transposed when there are many runs."""
        if len(self.runs) > TRANSPOSE_ABOVE:
            rows = [
                {"run": label, **{key: shown(v[label]) for key, v in values.items() if label in v}}
                for label in self.labels
            ]
            return markdown_table(rows, ["run", *values])
        rows = [{what: key, **{label: shown(value) for label, value in v.items()}} for key, v in values.items()]
        return markdown_table(rows, [what, *self.labels])

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_markdown` to ``path`` atomically (an existing file is replaced: it is derived from the
        runs, which stay as they are)."""
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"--out {path}: is a directory; give a file name such as comparison.md")
        try:
            atomic_write_text(path, self.to_markdown())
        except OSError as exc:
            raise ConfigError(f"--out {path}: cannot write it: {exc.strerror or exc}") from None
        return path

    @property
    def table(self) -> Any:
        """The metrics as a pandas DataFrame: one row per run (indexed by label), one column per metric."""
        import pandas as pd

        return pd.DataFrame(
            [{key: v.get(label) for key, v in self.metrics.items()} for label in self.labels],
            index=pd.Index(self.labels, name="run"),
            columns=list(self.metrics),
        )


# --- reading runs -------------------------------------------------------------------------------


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (``config.yaml`` and ``status.json``, not a sweep)."""
    return (path / "config.yaml").is_file() and (path / "status.json").is_file() and not is_sweep_dir(path)


def is_sweep_dir(path: Path) -> bool:
    """Whether ``path`` is a sweep directory (holds ``sweep.yaml``)."""
    return (path / SWEEP_FILE).is_file()


def sweep_points(sweep_dir: Path) -> list[tuple[str, Path]]:
    """The points of a sweep directory, in the sweep's order, as ``(name, run directory)`` (whether or not
    the directory exists yet)."""
    source = sweep_dir / SWEEP_FILE
    data = read_yaml(source)
    points = data.get("points") if isinstance(data, Mapping) else None
    if not isinstance(points, list) or not all(
        isinstance(p, Mapping) and isinstance(p.get("name"), str) for p in points
    ):
        raise ConfigError(f"{source}: not a sciconv sweep file (expected a 'points' list of named points)")
    return [(str(p["name"]), sweep_dir / "points" / str(p["name"])) for p in points]


def _expand(directory: Path) -> list[tuple[Path, list[str]]]:
    """The runs a DIR argument stands for: ``(run directory, label candidates, shortest first)``."""
    if not directory.exists():
        raise NotFoundError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise ConfigError(
            f"{directory}: not a directory (expected a run directory, a sweep directory or a folder of runs)"
        )
    if is_sweep_dir(directory):
        sweep = directory.resolve()
        return [
            (path, _candidates(f"{sweep.name}/{name}", sweep.parent))
            for name, path in sweep_points(directory)
            if is_run_dir(path)
        ]
    if is_run_dir(directory):
        return [(directory, _candidates(directory.resolve().name, directory.resolve().parent))]
    children = sorted((c for c in directory.iterdir() if c.is_dir() and is_run_dir(c)), key=lambda c: c.name)
    if not children:
        raise ConfigError(
            f"{directory}: neither a run directory (config.yaml and status.json), a sweep directory (sweep.yaml) "
            "nor a folder of run directories"
        )
    return [(child, _candidates(child.resolve().name, child.resolve().parent)) for child in children]


def _candidates(label: str, folder: Path) -> list[str]:
    """``label``, then ``label`` with more and more of the names of ``folder`` and its parents in front."""
    out = [label]
    for outer in (folder, *folder.parents):
        if outer.name:
            label = f"{outer.name}/{label}"
            out.append(label)
    return out


def _unique_labels(candidates: list[list[str]]) -> list[str]:
    """The shortest label of each run, lengthened with its parents' names where two runs would share one."""
    depth = [0] * len(candidates)
    while True:
        labels = [c[min(d, len(c) - 1)] for c, d in zip(candidates, depth, strict=True)]
        clashes = {label for label in labels if labels.count(label) > 1}
        if not clashes:
            return labels
        grown = False
        for i, label in enumerate(labels):
            if label in clashes and depth[i] < len(candidates[i]) - 1:
                depth[i] += 1
                grown = True
        if not grown:  # the same folder named twice, at full length: number them
            seen: dict[str, int] = {}
            result = []
            for label in labels:
                seen[label] = seen.get(label, 0) + 1
                result.append(label if labels.count(label) == 1 else f"{label}#{seen[label]}")
            return result


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as JSON: {exc}") from None


def read_run(path: Path, label: str) -> ComparedRun:
    """One run directory's pipeline name, status, wall time, metrics and flattened configuration."""
    config = read_yaml(path / "config.yaml")
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path / 'config.yaml'}: expected a pipeline mapping")
    status: Any = _read_json(path / "status.json") if (path / "status.json").is_file() else {}
    if not isinstance(status, Mapping):
        status = {}
    metrics: Any = _read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"{path / 'metrics.json'}: expected a mapping of metric names to values")
    wall = status.get("wall_time_s")
    return ComparedRun(
        label=label,
        path=path.resolve(),
        pipeline=str(config.get("name") or status.get("pipeline") or "?"),
        status=str(status.get("status", "unknown")),
        wall_time_s=float(wall) if isinstance(wall, (int, float)) else None,
        metrics=dict(metrics),
        config=flatten_config({k: v for k, v in config.items() if k != "record"}),
    )


# --- the comparison -----------------------------------------------------------------------------


def compare(*dirs: str | Path | Iterable[str | Path], metrics: Sequence[str] | None = None) -> Comparison:
    """Compare the runs in ``dirs`` (run directories, sweep directories or folders of runs; see the module).

    Args:
        dirs: paths, or lists of paths.
        metrics: fnmatch patterns (``"test.*"``); only metric keys matching one of them are compared.

    Raises:
        NotFoundError: a path that does not exist.
        ConfigError: a path that is none of the three kinds, or fewer than two runs in all.
    """
    paths: list[Path] = []
    for item in dirs:
        if isinstance(item, (str, os.PathLike)):
            paths.append(Path(item))
        else:
            paths.extend(Path(p) for p in item)
    if not paths:
        raise ConfigError("pipeline compare: name at least two run directories (or a sweep, or a folder of runs)")
    found: list[tuple[Path, list[str]]] = []
    seen: set[Path] = set()
    for directory in paths:
        for path, candidates in _expand(directory):
            if path.resolve() not in seen:  # the same run named twice (directly and through its folder) counts once
                seen.add(path.resolve())
                found.append((path, candidates))
    if len(found) < 2:
        named = ", ".join(str(p) for p in paths)
        raise ConfigError(
            f"pipeline compare: needs at least 2 runs, found {len(found)} in {named} (name more run directories, a "
            "sweep with finished points, or a folder of runs)"
        )
    labels = _unique_labels([candidates for _, candidates in found])
    runs = [read_run(path, label) for (path, _), label in zip(found, labels, strict=True)]

    metric_table: dict[str, dict[str, Any]] = {}
    for run in runs:
        for key, value in run.metrics.items():
            if metrics and not any(fnmatch.fnmatchcase(key, pattern) for pattern in metrics):
                continue
            metric_table.setdefault(key, {})[run.label] = value
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.config))
    differences: dict[str, dict[str, Any]] = {}
    same = 0
    for key in keys:
        present = [run for run in runs if key in run.config]
        values = [run.config[key] for run in present]
        if len(present) == len(runs) and all(_equal(v, values[0]) for v in values[1:]):
            same += 1
        else:
            differences[key] = {run.label: run.config[key] for run in present}
    return Comparison(runs=runs, metrics=metric_table, config_differences=differences, same=same)


def _equal(a: Any, b: Any) -> bool:
    """Equal as settings: the same value and the same kind (``true`` is not ``1``)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _setting(value: Any) -> str:
    """A setting's value as it reads in YAML (``0.003``, ``true``, ``null``, ``[8, 16]``); strings as they are."""
    if isinstance(value, str):
        return value if value else "''"
    return json.dumps(value)


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


__all__ = ["SWEEP_FILE", "TRANSPOSE_ABOVE", "ComparedRun", "Comparison", "compare", "read_run"]
