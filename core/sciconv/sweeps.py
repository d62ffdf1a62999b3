"""Sweeps: one pipeline run at many settings, each point a normal run directory, the results in one table.

``pipeline run NAME [fixed overrides] --sweep KEY=V1,V2 [KEY2=A,B ...]`` runs the grid of every combination
(the first key varies slowest); with ``--sweep-random N`` it runs ``N`` points drawn at random instead, where
an axis is ``a,b,c`` (a uniform choice), ``lo..hi`` (uniform; integers when both ends are integers) or
``lo..hi:log`` (log-uniform, both ends positive; integers when both ends are). The draw is seeded by the
pipeline's ``train.seed`` (after the fixed overrides), so the same command draws the same points; sampled
floats are rounded to 6 significant digits, so that a point's settings read cleanly.

Each axis's values are parsed as YAML, split on the commas that are not inside brackets, braces or quotes
(``model.params.widths=[8,16],[16,32]`` is two lists). Every point is validated as an override of the
pipeline before anything is written, so a bad key or value is the usual one-line :class:`ConfigError` and
leaves nothing behind. A key given both as a fixed override and as an axis is refused.

The sweep directory (default ``<output.root>/<pipeline>/sweep-<YYYYmmdd-HHMMSS>/``, or ``--run-dir``, a new
or empty folder)::

    sweep.yaml                  what was swept: target, fixed overrides, axes, sampling, metric, the points
    sweep.csv                   one row per point: point, status, run_dir, the swept keys, wall_time_s,
                                every final metric, error
    sweep.md                    the table, the plot, the best point
    plots/sweep_<metric>.png    the chosen metric against each swept key
    points/<NNN>-<slug>/        each point's own run directory (config.yaml, metrics.json, report.md, ...)

``sweep.yaml`` is written first and ``sweep.csv`` / ``sweep.md`` again (atomically) as each point finishes,
so an interrupted sweep leaves a true partial table (points not yet run say ``pending``).

**Points in parallel.** Points run through :func:`sciconv.parallel.run_jobs` with the pipeline's
``parallel.n_jobs`` workers (after the fixed overrides). When more than one point runs at a time, each is run
with ``parallel.n_jobs=1`` and ``train.progress=false`` added (unless it sweeps them), recorded in
``sweep.yaml`` and ``sweep.md``, and gets ``parallel.threads_per_job`` torch threads (default: this machine's
cores shared among the workers). A point's result does not depend on how many ran beside it: the run seeds
itself from its own ``train.seed``; CPU kernels may sum in a thread-count-dependent order, so results are
bitwise identical across ``n_jobs`` only with ``parallel.threads_per_job`` fixed.

**The chosen metric** (``--sweep-metric KEY``, checked against the first finished point's metrics) defaults to
the first metric of the first finished point that is not a timing (keys matching :data:`TIMING_KEYS`). The
best point maximises it, unless ``--sweep-mode min`` is given or the key names a loss or an error (``loss``,
``error``, ``rmse``, ``mae``, ``nrmse``): then it minimises it.

**Failures and resuming.** A point that fails does not stop the others: its row says ``failed`` and the error;
:meth:`SweepResult.check` (which the CLI calls) then raises a :class:`SciconvError` naming the failed points.
Ctrl-C stops the sweep; finished points stay. ``pipeline run --resume SWEEP_DIR`` continues it: points whose
run completed are skipped (their metrics read back), points with checkpoints are continued from them
(``--resume`` of the point), and a point folder with neither (a run that failed before its first checkpoint
left nothing worth keeping) is replaced. A resumed sweep may change only ``parallel.*`` and ``train.progress``.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import math
import random as _random
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_write_text
from sciconv.comparison import SWEEP_FILE
from sciconv.config import parse_override
from sciconv.errors import ConfigError, NotFoundError, SciconvError
from sciconv.kit.tables import markdown_table
from sciconv.parallel import Job, effective_n_jobs, run_jobs, threads_for
from sciconv.report import format_number, save_figure
from sciconv.rundir import RunDir
from sciconv.yamlio import dump_yaml, parse_yaml, read_yaml

TIMING_KEYS = re.compile(r"seconds|wall_time|_s$|_ms$|ms_per_|speedup")
"""Metric keys that are timings, never chosen as the sweep's metric by default."""

MINIMISED = ("loss", "error", "rmse", "mae", "nrmse")
"""A metric whose key contains one of these is minimised by default; any other is maximised."""

RESUMABLE = ("parallel.", "train.progress")
"""Overrides a resumed sweep may add: how its points run, not what they compute."""

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*(?::\s*(log)\s*)?$")
_INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


# --- axes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """A range an axis is sampled from in random mode: ``[low, high]``, uniform or log-uniform;
    integers when both ends are."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @property
    def text(self) -> str:
        """As written on the command line: ``lo..hi`` or ``lo..hi:log``."""

        def end(v: float) -> str:
            return str(int(v)) if self.integer else repr(float(v))

        return f"{end(self.low)}..{end(self.high)}" + (":log" if self.log else "")

    def sample(self, rng: _random.Random) -> float | int:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.integer:
            return int(min(max(round(value), self.low), self.high))
        return min(max(float(f"{value:.6g}"), self.low), self.high)


@dataclass(frozen=True)
class Axis:
    """One swept key: its values (grid or random choice) or its :class:`Range` (random mode only)."""

    key: str
    values: tuple[Any, ...] = ()
    range: Range | None = None

    def to_data(self) -> Any:
        return self.range.text if self.range is not None else list(self.values)


def split_values(text: str, source: str = "--sweep") -> list[str]:
    """Split an axis's values on the commas outside brackets, braces and quotes:
    ``"[8,16],[16,32]"`` -> ``["[8,16]", "[16,32]"]``, ``"'a,b',c"`` -> ``["'a,b'", "c"]``."""
    items: list[str] = []
    depth, quote, start = 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"{source}: unbalanced {char!r} in {text!r}")
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if quote or depth:
        raise ConfigError(f"{source}: unclosed {'quote' if quote else 'bracket'} in {text!r}")
    items.append(text[start:])
    if any(not item.strip() for item in items):
        raise ConfigError(f"{source}: empty value in {text!r} (write an empty string as '')")
    return [item.strip() for item in items]


def parse_range(text: str, source: str) -> Range | None:
    """``"1e-4..1e-2:log"`` -> a :class:`Range`; ``None`` when ``text`` is not a range."""
    match = _RANGE.match(text)
    if match is None:
        return None
    low_text, high_text, log = match.groups()
    integer = bool(_INTEGER.match(low_text) and _INTEGER.match(high_text))
    low, high = float(low_text), float(high_text)
    if not low < high:
        raise ConfigError(f"{source}: the range {text!r} must go from a lower to a higher value")
    if log and low <= 0:
        raise ConfigError(f"{source}: the log range {text!r} needs both ends positive")
    return Range(low, high, log=bool(log), integer=integer)


def parse_axis(text: str) -> Axis:
    """``"train.lr=1e-3,3e-3"`` -> an :class:`Axis` with values parsed as YAML, or with a :class:`Range`
    (``"train.lr=1e-4..1e-2:log"``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    source = f"--sweep {text!r}"
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"{source}: expected KEY=V1,V2,... (values parsed as YAML) or KEY=LO..HI[:log]")
    return _axis_from_text(key, raw, source)


def _axis_from_text(key: str, raw: str, source: str) -> Axis:
    items = split_values(raw, source)
    ranges = [parse_range(item, source) for item in items]
    if any(r is not None for r in ranges):
        if len(items) > 1:
            raise ConfigError(f"{source}: a range cannot be listed with other values; give one LO..HI[:log]")
        return Axis(key, range=ranges[0])
    return Axis(key, values=tuple(parse_yaml(item, source) for item in items))


def as_axes(axes: Mapping[str, Any] | Iterable[str]) -> list[Axis]:
    """Axes from ``{"train.lr": [1e-3, 3e-3]}`` (a list is the values as given, a string is parsed as on the
    command line: ``"1e-3,3e-3"``, ``"1e-4..1e-2:log"``, a :class:`Range` is a range) or from
    ``["train.lr=1e-3,3e-3"]``."""
    if isinstance(axes, str):
        axes = [axes]
    result: list[Axis] = []
    if isinstance(axes, Mapping):
        for key, spec in axes.items():
            source = f"axis {key!r}"
            if isinstance(spec, Range):
                result.append(Axis(str(key), range=spec))
            elif isinstance(spec, str):
                result.append(_axis_from_text(str(key), spec, source))
            elif isinstance(spec, Sequence):
                if not spec:
                    raise ConfigError(f"{source}: no values")
                result.append(Axis(str(key), values=tuple(spec)))
            else:
                raise ConfigError(f"{source}: expected a list of values or a range 'LO..HI[:log]', got {spec!r}")
    else:
        result = [parse_axis(text) for text in axes]
    keys = [axis.key for axis in result]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"--sweep {key}: the key is swept twice; give all its values in one axis")
    return result


def _normalise_overrides(overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return {str(k): v for k, v in overrides.items()}
    if isinstance(overrides, str):
        overrides = [overrides]
    return dict(parse_override(text) for text in overrides)


# --- points -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its index, its folder name under ``points/`` and the swept keys' values."""

    index: int
    name: str
    overrides: dict[str, Any]


def grid_points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    for axis in axes:
        if axis.range is not None:
            raise ConfigError(
                f"--sweep {axis.key}={axis.range.text}: a range needs --sweep-random N (N points drawn at random); "
                f"a grid takes listed values: {axis.key}=a,b,c"
            )
    return [
        {axis.key: copy.deepcopy(value) for axis, value in zip(axes, combo, strict=True)}
        for combo in itertools.product(*(axis.values for axis in axes))
    ]


def random_points(axes: Sequence[Axis], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points drawn with ``random.Random(seed)``: a uniform choice among an axis's values, or a sample of
    its :class:`Range`."""
    if n < 1:
        raise ConfigError(f"--sweep-random {n}: expected a positive number of points")
    rng = _random.Random(seed)
    return [
        {
            axis.key: axis.range.sample(rng) if axis.range is not None else copy.deepcopy(rng.choice(axis.values))
            for axis in axes
        }
        for _ in range(n)
    ]


def _value_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "-".join(_value_text(v) for v in value)
    if isinstance(value, Mapping):
        return "-".join(f"{k}-{_value_text(v)}" for k, v in value.items())
    return str(value)


def point_name(index: int, values: Mapping[str, Any], width: int = 3, max_slug: int = 60) -> str:
    """``NNN-<slug>``: the index, then the swept keys' last parts and values, filesystem-safe and short
    (``001-n_filters-8_lr-0.003``)."""
    shorts = [key.rsplit(".", 1)[-1] for key in values]
    parts = []
    for key, short in zip(values, shorts, strict=True):
        label = short if shorts.count(short) == 1 else key
        parts.append(f"{label}-{_value_text(values[key])}")
    slug = re.sub(r"-{2,}", "-", _UNSAFE.sub("-", "_".join(parts))).strip("-._")[:max_slug].rstrip("-._")
    return f"{index:0{width}d}-{slug or 'point'}"


def make_points(rows: Sequence[Mapping[str, Any]]) -> list[Point]:
    width = max(3, len(str(len(rows) - 1)))
    return [Point(i, point_name(i, row, width), dict(row)) for i, row in enumerate(rows)]


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """What a sweep runs (as saved in ``sweep.yaml``)."""

    target: str
    pipeline: str
    overrides: dict[str, Any]
    axes: list[Axis]
    sampling: str  # "grid" or "random"
    n_random: int | None
    seed: int | None
    metric: str | None
    metric_mode: str | None
    points: list[Point]
    created: str = ""
    runs: dict[str, Any] = field(default_factory=dict)  # how the points were run: workers, threads, overrides
    resumes: list[dict[str, Any]] = field(default_factory=list)
    output_root: str = "runs"  # where a sweep without --run-dir goes (not saved: the directory is then known)

    def to_data(self) -> dict[str, Any]:
        return {
            "sweep": 1,
            "created": self.created,
            "target": self.target,
            "pipeline": self.pipeline,
            "overrides": self.overrides,
            "axes": {axis.key: axis.to_data() for axis in self.axes},
            "sampling": self.sampling,
            "n_random": self.n_random,
            "seed": self.seed,
            "metric": self.metric,
            "metric_mode": self.metric_mode,
            "runs": self.runs,
            "resumes": self.resumes,
            "points": [{"index": p.index, "name": p.name, "overrides": p.overrides} for p in self.points],
        }

    @classmethod
    def from_data(cls, data: Any, source: str) -> SweepPlan:
        try:
            axes = as_axes(data["axes"])
            return cls(
                target=str(data["target"]),
                pipeline=str(data["pipeline"]),
                overrides=dict(data.get("overrides") or {}),
                axes=axes,
                sampling=str(data["sampling"]),
                n_random=data.get("n_random"),
                seed=data.get("seed"),
                metric=data.get("metric"),
                metric_mode=data.get("metric_mode"),
                points=[Point(int(p["index"]), str(p["name"]), dict(p["overrides"])) for p in data["points"]],
                created=str(data.get("created", "")),
                runs=dict(data.get("runs") or {}),
                resumes=list(data.get("resumes") or []),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{source}: not a sciconv sweep file ({type(exc).__name__}: {exc})") from None


def _target_text(target: str | Path) -> str:
    """How ``sweep.yaml`` names the pipeline: a registered name as it is, a file by its absolute path (so that
    the sweep resumes from any working directory)."""
    text = str(target)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or "/" in text or path.is_file():
        return str(path.resolve())
    return text


def _check_metric_mode(mode: str | None) -> str | None:
    if mode not in (None, "max", "min"):
        raise ConfigError(f"--sweep-mode {mode}: expected max or min")
    return mode


def plan_sweep(
    target: str | Path,
    axes: Mapping[str, Any] | Iterable[str],
    overrides: Mapping[str, Any] | Iterable[str] = (),
    *,
    random: int | None = None,
    metric: str | None = None,
    mode: str | None = None,
) -> SweepPlan:
    """The points of a sweep, every one validated as an override of the pipeline; nothing is written."""
    from sciconv.pipeline import load_pipeline

    fixed = _normalise_overrides(overrides)
    axis_list = as_axes(axes)
    if not axis_list:
        raise ConfigError("--sweep: give at least one axis, KEY=V1,V2,...")
    for axis in axis_list:
        if axis.key in fixed:
            raise ConfigError(
                f"{axis.key}: given both as a fixed override and as a --sweep axis; give it once (an axis may have "
                "one value)"
            )
    _check_metric_mode(mode)
    base = load_pipeline(target, fixed)
    seed = base.config.train.seed
    rows = grid_points(axis_list) if random is None else random_points(axis_list, random, seed)
    points = make_points(rows)
    for point in points:  # every point, before anything runs: a bad key or value costs nothing
        load_pipeline(target, {**fixed, **point.overrides})
    return SweepPlan(
        target=_target_text(target),
        pipeline=base.config.name,
        overrides=fixed,
        axes=axis_list,
        sampling="grid" if random is None else "random",
        n_random=random,
        seed=seed if random is not None else None,
        metric=metric,
        metric_mode=mode,
        points=points,
        output_root=base.config.output.root,
    )


# --- results ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What :func:`sweep` returns.

    ``rows`` are ``sweep.csv``'s rows as Python values (point, status, run_dir, the swept keys, wall_time_s,
    the metrics, error); ``metric`` the chosen metric (``None`` when no point finished), ``mode`` whether the
    best point maximises or minimises it, ``best`` the best row.
    """

    sweep_dir: Path
    rows: list[dict[str, Any]]
    metric: str | None
    best: dict[str, Any] | None
    mode: str = "max"

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the points that failed."""
        return [row for row in self.rows if row["status"] == "failed"]

    @property
    def table(self) -> Any:
        """The rows as a pandas DataFrame, one row per point."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def check(self) -> SweepResult:
        """``self``, or a :class:`SciconvError` naming the points that failed."""
        failed = self.failed
        if failed:
            names = ", ".join(str(row["point"]) for row in failed)
            raise SciconvError(
                f"{len(failed)} of {len(self.rows)} sweep points failed: {names} (their errors are in "
                f"{self.sweep_dir / 'sweep.md'}; after a fix, pipeline run --resume {self.sweep_dir} runs them again)"
            )
        return self


@dataclass
class _Row:
    point: Point
    status: str = "pending"
    run_dir: str = ""
    wall_time_s: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    earlier: bool = False  # completed before this (resumed) sweep started

    def flat(self) -> dict[str, Any]:
        return {
            "point": self.point.name,
            "status": self.status,
            "run_dir": self.run_dir,
            **self.point.overrides,
            "wall_time_s": self.wall_time_s,
            **self.metrics,
            "error": self.error,
        }


def is_timing(key: str) -> bool:
    """Whether a metric key is a timing (see :data:`TIMING_KEYS`)."""
    return TIMING_KEYS.search(key) is not None


def default_metric(metrics: Mapping[str, Any]) -> str | None:
    """The first metric that is a number (or a non-finite one, saved as null) and not a timing."""
    for key, value in metrics.items():
        if not is_timing(key) and not isinstance(value, str):
            return key
    return None


def metric_direction(metric: str, mode: str | None = None) -> str:
    """``mode`` if given, else ``"min"`` for a loss or error (:data:`MINIMISED`), ``"max"`` otherwise."""
    if mode is not None:
        return mode
    return "min" if any(word in metric.lower() for word in MINIMISED) else "max"


def _best(rows: Sequence[_Row], metric: str | None, mode: str) -> _Row | None:
    if metric is None:
        return None
    scored = [
        (row.metrics[metric], row)
        for row in rows
        if row.status == "completed"
        and isinstance(row.metrics.get(metric), (int, float))
        and math.isfinite(row.metrics[metric])
    ]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda item: item[0])[1]  # the first of equals, in point order


# --- running ------------------------------------------------------------------------------------


def _run_point(target: str, overrides: dict[str, Any], run_dir: str, resume: str | None, label: str) -> dict[str, Any]:
    """Run (or continue) one point; a failure is returned as a row, not raised, so the other points go on.
    Module level: loky workers import it by name."""
    from sciconv.pipeline import load_pipeline, load_run

    def log(message: str) -> None:
        print(f"[{label}] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        if resume is not None:
            result = load_run(resume, overrides).run(resume=resume, log=log)
        else:
            result = load_pipeline(target, overrides).run(run_dir, log=log)
    except Exception as exc:  # a point's failure (a SciconvError, or a bug in a component) is its row's
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}".replace("\n", " "),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "metrics": {},
        }
    wall = _read_status(Path(run_dir)).get("wall_time_s")
    return {
        "status": "completed",
        "error": "",
        "wall_time_s": wall if isinstance(wall, (int, float)) else round(time.perf_counter() - started, 3),
        "metrics": dict(result.metrics),
    }


def _read_status(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "status.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _finished(path: Path) -> tuple[dict[str, Any], float | None] | None:
    """A completed point's metrics and wall time, or ``None`` when its run did not complete."""
    status = _read_status(path)
    if status.get("status") != "completed":
        return None
    try:
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    wall = status.get("wall_time_s")
    return (metrics if isinstance(metrics, dict) else {}), (wall if isinstance(wall, (int, float)) else None)


class _Sweep:
    """A sweep being run: its plan, its directory and its rows, written as they change."""

    def __init__(self, plan: SweepPlan, directory: Path, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.directory = directory
        self.log = log
        self.rows = [_Row(point) for point in plan.points]
        self.metric: str | None = None
        self.mode = "max"
        self.plots = True  # the pipeline's output.plots: without it, no sweep plot either

    def point_dir(self, point: Point) -> Path:
        return self.directory / "points" / point.name

    def write_plan(self) -> None:
        atomic_write_text(self.directory / SWEEP_FILE, dump_yaml(self.plan.to_data()))

    def choose_metric(self) -> None:
        """The chosen metric, once a point has finished: ``--sweep-metric`` checked, or the default."""
        if self.metric is not None:
            return
        first = next((row for row in self.rows if row.status == "completed"), None)
        if first is None:
            return
        if self.plan.metric is not None:
            if self.plan.metric not in first.metrics:
                available = ", ".join(first.metrics) or "(none)"
                raise ConfigError(
                    f"--sweep-metric {self.plan.metric}: not a metric of this pipeline; its metrics are: {available} "
                    f"(the sweep in {self.directory} keeps its finished points; continue it with pipeline run "
                    f"--resume {self.directory} --sweep-metric KEY)"
                )
            self.metric = self.plan.metric
        else:
            self.metric = default_metric(first.metrics)
        if self.metric is not None:
            self.mode = metric_direction(self.metric, self.plan.metric_mode)

    def result(self) -> SweepResult:
        best = _best(self.rows, self.metric, self.mode)
        return SweepResult(
            sweep_dir=self.directory,
            rows=[row.flat() for row in self.rows],
            metric=self.metric,
            best=best.flat() if best is not None else None,
            mode=self.mode,
        )

    # -- files ---------------------------------------------------------------------------------

    def write_tables(self) -> None:
        metric_keys: dict[str, None] = {}
        for row in self.rows:
            metric_keys.update(dict.fromkeys(row.metrics))
        keys = [axis.key for axis in self.plan.axes]
        columns = ["point", "status", "run_dir", *keys, "wall_time_s", *metric_keys, "error"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_value(v) for k, v in row.flat().items()})
        atomic_write_text(self.directory / "sweep.csv", buffer.getvalue())
        plot = self.write_plot()
        atomic_write_text(self.directory / "sweep.md", self.markdown(list(metric_keys), plot))

    def write_plot(self) -> str | None:
        if self.metric is None or not self.plots:
            return None
        path = self.directory / "plots" / f"sweep_{_UNSAFE.sub('-', self.metric)}.png"
        written = plot_sweep(
            [row.flat() for row in self.rows if row.status == "completed"],
            self.plan.axes,
            self.metric,
            path,
            best=(best.point.name if (best := _best(self.rows, self.metric, self.mode)) else None),
        )
        return written.relative_to(self.directory).as_posix() if written is not None else None

    def markdown(self, metric_keys: list[str], plot: str | None) -> str:
        plan = self.plan
        done = sum(row.status == "completed" for row in self.rows)
        failed = sum(row.status == "failed" for row in self.rows)
        if plan.sampling == "grid":
            how = f"a grid of {len(plan.points)} points over {len(plan.axes)} key{'s' if len(plan.axes) > 1 else ''}"
        else:
            how = f"{len(plan.points)} random points (drawn with seed {plan.seed}, the pipeline's train.seed)"
        out = [
            f"# Sweep of {plan.pipeline}",
            "",
            f"`{plan.target}`, {how}: {done} completed, {failed} failed, "
            f"{len(self.rows) - done - failed} not run. Created {plan.created}.",
            "",
            "## What was swept",
            "",
        ]
        for axis in plan.axes:
            if axis.range is not None:
                kind = "log-uniform" if axis.range.log else "uniform"
                out.append(f"- `{axis.key}`: {kind} in [{axis.range.text.replace(':log', '')}]")
            else:
                out.append(f"- `{axis.key}`: " + ", ".join(_shown(v) for v in axis.values))
        if plan.overrides:
            out.append("- fixed: " + ", ".join(f"`{k}={_shown(v)}`" for k, v in plan.overrides.items()))
        runs = plan.runs
        if runs:
            line = (
                f"- run {runs.get('workers', 1)} point{'s' if runs.get('workers', 1) != 1 else ''} at a time, "
                f"{runs.get('threads_per_job')} torch thread(s) each"
            )
            if runs.get("point_overrides"):
                line += ", each with " + ", ".join(f"`{k}={_shown(v)}`" for k, v in runs["point_overrides"].items())
            line += " (a point's result does not depend on how many ran beside it)"
            if runs.get("wall_time_s") is not None:
                line += f"; the points run {'by the last resume ' if plan.resumes else ''}took "
                line += f"{runs['wall_time_s']:.1f} s in all"
            out.append(line)
        out.append("")
        if self.metric is not None:
            best = _best(self.rows, self.metric, self.mode)
            out += ["## Best point", ""]
            if best is None:
                out.append(f"_No finished point has a finite `{self.metric}`._")
            else:
                settings = ", ".join(f"`{k}={_shown(v)}`" for k, v in best.point.overrides.items())
                out.append(
                    f"**{best.point.name}**: `{self.metric}` = {format_number(best.metrics[self.metric])} "
                    f"({self.mode}imum of the sweep) with {settings}; its report: "
                    f"[{best.point.name}/report.md](points/{best.point.name}/report.md)"
                )
            out.append("")
        out += ["## Points", ""]
        shown_metrics = metric_keys if len(metric_keys) <= 6 else [k for k in metric_keys if k == self.metric]
        columns = ["point", "status", *(axis.key for axis in plan.axes)]
        columns += [*shown_metrics, "wall_time_s"]
        if failed:
            columns.append("error")
        table_rows = []
        for row in self.rows:
            cells: dict[str, Any] = {
                "point": f"[{row.point.name}](points/{row.point.name}/report.md)"
                if row.status == "completed"
                else row.point.name,
                "status": row.status,
                **{k: _shown(v) for k, v in row.point.overrides.items()},
                **{k: v for k, v in row.metrics.items() if k in shown_metrics},
                "error": row.error,
            }
            if row.wall_time_s is not None:
                cells["wall_time_s"] = row.wall_time_s
            table_rows.append(cells)
        out.append(markdown_table(table_rows, columns))
        if len(shown_metrics) < len(metric_keys):
            out += [f"The points' other {len(metric_keys) - len(shown_metrics)} metrics are in `sweep.csv`.", ""]
        if plot is not None:
            caption = f"{self.metric} against each swept key, one marker per finished point (star: the best)"
            out += ["## Plot", "", f"![{caption}]({plot})", "", f"*{caption}*", ""]
        out += [
            "## Files",
            "",
            "`sweep.yaml` (what was swept, the points), `sweep.csv` (every point's settings and final metrics), "
            "`points/<point>/` (each point's run directory). Continue an interrupted sweep with "
            f"`pipeline run --resume {self.directory}`; compare points with `pipeline compare {self.directory}`.",
            "",
        ]
        return "\n".join(out)


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    if value is None:
        return ""
    return value


def _shown(value: Any) -> str:
    """A setting's value as it reads in YAML (``0.003``, ``true``, ``[8, 16]``); strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def plot_sweep(
    rows: Sequence[Mapping[str, Any]], axes: Sequence[Axis], metric: str, path: Path, best: str | None = None
) -> Path | None:
    """Plot ``metric`` against each swept key, one panel per key and one marker per row; numeric keys on a
    numeric axis (logarithmic when the values are positive and span two decades or more), others as
    categories. The ``best`` point is starred. Returns the PNG, or ``None`` when no row has the metric."""
    scored = [
        row
        for row in rows
        if isinstance(row.get(metric), (int, float))
        and not isinstance(row.get(metric), bool)
        and math.isfinite(row[metric])
    ]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, len(axes), figsize=(4.2 * len(axes), 3.4), squeeze=False, sharey=True)
    ys = [float(row[metric]) for row in scored]
    for ax, axis in zip(panels[0], axes, strict=True):
        xs = [row[axis.key] for row in scored]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        if numeric:
            positions = [float(x) for x in xs]
            low, high = min(positions), max(positions)
            distinct = sorted(set(positions))
            if low > 0 and high / low >= 100:
                ax.set_xscale("log")
            if len(distinct) <= 8:  # a grid's values: ticks where the points are
                ax.set_xticks(distinct, [_tick(x) for x in distinct])
                ax.minorticks_off()
        else:
            order = [_shown(v) for v in axis.values] if axis.range is None else []
            for x in xs:
                if _shown(x) not in order:
                    order.append(_shown(x))
            positions = [float(order.index(_shown(x))) for x in xs]
            ax.set_xticks(range(len(order)), order, rotation=30 if max(len(t) for t in order) > 6 else 0)
            ax.set_xlim(-0.5, len(order) - 0.5)
        ax.plot(positions, ys, "o", color="C0", alpha=0.8, label="point")
        for row, x, y in zip(scored, positions, ys, strict=True):
            if row.get("point") == best:
                ax.plot([x], [y], "*", color="C3", markersize=14, label="best")
        ax.set_xlabel(axis.key)
        ax.grid(alpha=0.3)
    panels[0][0].set_ylabel(metric)
    if best is not None:
        panels[0][0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _tick(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:.3g}"


def _make_sweep_dir(root: str, pipeline: str, explicit: str | Path | None) -> Path:
    """A new sweep directory: ``explicit`` (missing or empty) or ``<root>/<pipeline>/sweep-<time>``."""
    if explicit is not None:
        path = Path(explicit)
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"--run-dir {path}: exists and is not a directory")
            if any(path.iterdir()):
                hint = f" (continue the sweep in it with --resume {path})" if (path / SWEEP_FILE).is_file() else ""
                raise ConfigError(f"--run-dir {path}: the directory is not empty{hint}")
            return path
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(f"--run-dir {path}: cannot create it: {exc.strerror or exc}") from None
        return path
    base = Path(root) / pipeline
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output.root={root}: cannot create {base}: {exc.strerror or exc}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = base / (f"sweep-{stamp}" if n == 0 else f"sweep-{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"output.root={root}: cannot create {path}: {exc.strerror or exc}") from None
        return path
    raise ConfigError(f"cannot create a new sweep directory under {base}")


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def point_line(row: Mapping[str, Any], metric: str | None) -> str:
    """One line for a finished point: its name, status and the chosen metric (or its error)."""
    line = f"{row['point']}: {row['status']}"
    if row["status"] == "completed" and metric is not None and metric in row:
        value = row[metric]
        line += f", {metric}={format_number(value) if not isinstance(value, str) else value}"
    if row.get("earlier"):
        line += " (earlier)"
    if row["status"] == "failed":
        line += f" ({row['error']})"
    return line


def sweep(
    target: str | Path | None = None,
    axes: Mapping[str, Any] | Iterable[str] = (),
    overrides: Mapping[str, Any] | Iterable[str] = (),
    *,
    random: int | None = None,
    metric: str | None = None,
    mode: str | None = None,
    sweep_dir: str | Path | None = None,
    resume: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    on_point: Callable[[dict[str, Any], str | None], None] | None = None,
) -> SweepResult:
    """Run a pipeline at every point of a sweep (see the module) and return the :class:`SweepResult`.

    Args:
        target: a registered pipeline name or a pipeline file (not needed with ``resume``).
        axes: ``{"train.lr": [1e-3, 3e-3], "model.params.n_filters": "8,16"}`` or
            ``["train.lr=1e-3,3e-3", ...]``; a string is parsed as on the command line (``"1e-4..1e-2:log"``).
        overrides: fixed overrides, applied to every point.
        random: draw this many points at random (seeded by ``train.seed``) instead of running the grid.
        metric: the metric that ranks the points (default: the first non-timing metric).
        mode: ``"max"`` or ``"min"``: which end of ``metric`` is best (default: min for losses and errors).
        sweep_dir: a new or empty folder for the sweep (default ``<output.root>/<pipeline>/sweep-<time>``).
        resume: continue the sweep in this directory (``overrides`` may then set only ``parallel.*`` and
            ``train.progress``; ``metric`` and ``mode`` may change).
        log: where progress messages go (default: stderr).
        on_point: called with each finished point's row and the chosen metric (default: a line to ``log``).

    Failed points do not raise: they are rows with ``status == "failed"``; :meth:`SweepResult.check` raises a
    :class:`SciconvError` naming them.
    """
    log = log or _log_stderr
    if on_point is None:

        def on_point(row: dict[str, Any], metric: str | None) -> None:
            log(point_line(row, metric))

    _check_metric_mode(mode)
    if resume is not None:
        if sweep_dir is not None:
            raise ConfigError("--run-dir and --resume cannot be used together")
        if axes or random is not None:
            raise ConfigError(
                f"--resume {resume}: a sweep continues with its own axes; --sweep and --sweep-random cannot be given"
            )
        plan, directory, extra = _load_for_resume(resume, target, overrides, metric, mode)
    else:
        if target is None:
            raise ConfigError("name a pipeline (or a pipeline file) to sweep")
        plan = plan_sweep(target, axes, overrides, random=random, metric=metric, mode=mode)
        directory = _make_sweep_dir(plan.output_root, plan.pipeline, sweep_dir)
        plan.created = time.strftime("%Y-%m-%d %H:%M:%S")
        extra = {}
    return _execute(plan, directory, extra, log, on_point, resuming=resume is not None)


def _load_for_resume(
    resume: str | Path,
    target: str | Path | None,
    overrides: Mapping[str, Any] | Iterable[str],
    metric: str | None,
    mode: str | None,
) -> tuple[SweepPlan, Path, dict[str, Any]]:
    directory = Path(resume)
    source = directory / SWEEP_FILE
    if not source.is_file():
        raise NotFoundError(f"--resume {resume}: not a sweep directory (no {SWEEP_FILE})")
    plan = SweepPlan.from_data(read_yaml(source), str(source))
    if target is not None and str(target) not in (plan.target, plan.pipeline) and _target_text(target) != plan.target:
        raise ConfigError(f"--resume {resume}: that sweep is of {plan.target}, not {target}")
    extra = _normalise_overrides(overrides)
    refused = [key for key in extra if not key.startswith(RESUMABLE)]
    if refused:
        raise ConfigError(
            f"--resume {resume}: a resumed sweep keeps the settings of its points, so it cannot change "
            f"{', '.join(refused)}; it may change only parallel.* and train.progress (start a new sweep instead)"
        )
    if metric is not None:
        plan.metric = metric
    if mode is not None:
        plan.metric_mode = mode
    plan.resumes.append({"resumed": time.strftime("%Y-%m-%d %H:%M:%S"), "overrides": extra})
    return plan, directory, extra


def _execute(
    plan: SweepPlan,
    directory: Path,
    extra: dict[str, Any],
    log: Callable[[str], None],
    on_point: Callable[[dict[str, Any], str | None], None],
    *,
    resuming: bool,
) -> SweepResult:
    from sciconv.pipeline import load_pipeline

    state = _Sweep(plan, directory, log)
    (directory / "points").mkdir(parents=True, exist_ok=True)
    todo: list[tuple[_Row, str | None]] = []  # each point to run, and the run directory it continues
    for row in state.rows:
        path = state.point_dir(row.point)
        finished = _finished(path)
        if finished is not None:
            row.status, row.earlier, row.run_dir = "completed", True, f"points/{row.point.name}"
            row.metrics, row.wall_time_s = finished
        elif path.is_dir() and RunDir(path).has_checkpoints() and (path / "config.yaml").is_file():
            todo.append((row, str(path)))
        else:
            if path.exists():  # a run that left no checkpoint and no result: nothing worth keeping
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            todo.append((row, None))

    base = load_pipeline(plan.target, {**plan.overrides, **extra}, check_values=False).config
    for row, continues in todo:  # checked again: the pipeline file may have changed since the sweep started
        if resuming and continues is None:
            load_pipeline(plan.target, {**plan.overrides, **row.point.overrides, **extra})
    workers = min(effective_n_jobs(base.parallel.n_jobs), max(len(todo), 1))
    threads = threads_for(workers, base.parallel.threads_per_job)
    swept = {axis.key for axis in plan.axes}
    forced = (
        {k: v for k, v in {"parallel.n_jobs": 1, "train.progress": False}.items() if k not in swept}
        if workers > 1
        else {}
    )
    state.plots = base.output.plots
    plan.runs = {"workers": workers, "threads_per_job": threads, "point_overrides": forced}
    state.choose_metric()  # against the points finished earlier: a resume with a wrong metric changes nothing
    state.write_plan()
    state.write_tables()
    for row in state.rows:
        if row.earlier:
            on_point({**row.flat(), "earlier": True}, state.metric)
    log(f"sweep {plan.pipeline}: {len(todo)} of {len(plan.points)} points to run, {workers} at a time -> {directory}")
    by_name = {row.point.name: row for row, _ in todo}

    def finished_point(job: Job, outcome: dict[str, Any]) -> None:
        row = by_name[job.name]
        row.status, row.error = outcome["status"], outcome["error"]
        row.metrics, row.wall_time_s = outcome["metrics"], outcome["wall_time_s"]
        row.run_dir = f"points/{row.point.name}" if state.point_dir(row.point).is_dir() else ""
        try:
            state.choose_metric()
        finally:
            state.write_tables()
        on_point(row.flat(), state.metric)

    jobs = []
    for row, continues in todo:
        path = state.point_dir(row.point)
        if continues is None:
            overrides = {**plan.overrides, **row.point.overrides, **extra, **forced}
        else:
            overrides = {**extra, **forced}
        jobs.append(Job(row.point.name, (plan.target, overrides, str(path), continues, row.point.name)))
    started = time.perf_counter()
    try:
        run_jobs(
            _run_point,
            jobs,
            n_jobs=workers,
            seed=base.train.seed,
            threads_per_job=threads,
            on_result=finished_point,
        )
    except KeyboardInterrupt as exc:
        for row, _ in todo:  # the points stopped mid-run say so (their run directories keep their checkpoints)
            status = _read_status(state.point_dir(row.point)).get("status") if row.status == "pending" else None
            if status:
                row.status, row.run_dir = str(status), f"points/{row.point.name}"
        state.write_tables()
        exc.add_note(
            f"the sweep in {directory} keeps its finished points; continue it with pipeline run --resume {directory}"
        )
        raise
    plan.runs["wall_time_s"] = round(time.perf_counter() - started, 3)  # this execution's points, end to end
    state.write_plan()
    state.write_tables()
    return state.result()


__all__ = [
    "MINIMISED",
    "TIMING_KEYS",
    "Axis",
    "Point",
    "Range",
    "SweepPlan",
    "SweepResult",
    "as_axes",
    "default_metric",
    "grid_points",
    "metric_direction",
    "parse_axis",
    "plan_sweep",
    "plot_sweep",
    "random_points",
    "split_values",
    "sweep",
]
