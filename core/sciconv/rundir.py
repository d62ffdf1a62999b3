"""The run directory: one folder that explains a run.

::

    runs/<pipeline>/<YYYYmmdd-HHMMSS>/
        config.yaml      the resolved configuration (what ran, re-runnable)
        status.json      running / completed / failed, timings, versions, the error if any
        metrics.json     final metrics, flat keys
        history.csv      one row per epoch of every fit
        report.md        the human summary, with the plots embedded
        plots/*.png
        checkpoints/<fit>/epoch-NNNNNN/  and  checkpoints/<fit>/model.safetensors

Every file is written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_write_text
from sciconv.errors import ConfigError, NotFoundError
from sciconv.yamlio import dump_yaml, read_yaml


class RunDir:
    """Paths and atomic writers of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._made_parents: list[Path] = []  # folders above the run that create() made, removed by discard()

    config_file = property(lambda self: self.path / "config.yaml")
    status_file = property(lambda self: self.path / "status.json")
    metrics_file = property(lambda self: self.path / "metrics.json")
    history_file = property(lambda self: self.path / "history.csv")
    report_file = property(lambda self: self.path / "report.md")
    plots_dir = property(lambda self: self.path / "plots")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | Path, pipeline: str, explicit: str | Path | None = None) -> tuple[RunDir, bool]:
        """Make a fresh run directory; returns it and whether the folder itself was created.

        ``explicit`` (``--run-dir``) may name a missing or empty folder; one holding files is
        refused so that an earlier result is never overwritten. A folder that cannot be made or written
        (under a file, no permission) is a :class:`ConfigError` naming ``--run-dir`` or ``output.root``.
        """
        if explicit is not None:
            path = Path(explicit)
            if path.exists():
                if not path.is_dir():
                    raise ConfigError(f"--run-dir {path}: exists and is not a directory")
                if any(path.iterdir()):
                    hint = " (use --resume to continue it)" if (path / "config.yaml").exists() else ""
                    raise ConfigError(f"--run-dir {path}: the directory is not empty{hint}")
                _require_writable(path, f"--run-dir {path}")
                return cls(path), False
            made = _make_dirs(path, f"--run-dir {path}")
            run = cls(path)
            run._made_parents = made[:-1]
            return run, True
        base = Path(root) / pipeline
        made_base = _make_dirs(base, f"output.root={root}")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1000):
            path = base / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                path.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            except OSError as exc:
                raise ConfigError(f"output.root={root}: cannot create {path}: {exc.strerror or exc}") from None
            run = cls(path)
            run._made_parents = made_base
            return run, True
        raise ConfigError(f"cannot create a new run directory under {base}")

    @classmethod
    def existing(cls, path: str | Path) -> RunDir:
        """An earlier run's directory (for ``--resume``)."""
        run = cls(Path(path))
        if not run.path.is_dir():
            raise NotFoundError(f"--resume {path}: no such directory")
        if not run.config_file.is_file():
            raise NotFoundError(f"--resume {path}: not a sciconv run directory (no config.yaml)")
        return run

    def discard(self, created: bool) -> None:
        """Remove what this run wrote (the folder too when the run created it, and the folders above it that
        :meth:`create` made, such as ``runs/<pipeline>/``, once they are empty)."""
        if created:
            shutil.rmtree(self.path, ignore_errors=True)
            for parent in reversed(self._made_parents):
                try:
                    parent.rmdir()  # only when empty: another run may have written there since
                except OSError:
                    break
        else:
            for child in self.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def has_checkpoints(self) -> bool:
        return self.checkpoints_dir.is_dir() and any(self.checkpoints_dir.rglob("manifest.json"))

    # -- writers -------------------------------------------------------------------------------

    def read_config(self) -> dict[str, Any]:
        data = read_yaml(self.config_file)
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config_file}: expected a pipeline mapping")
        return data

    def write_config(self, config: Mapping[str, Any]) -> None:
        atomic_write_text(self.config_file, dump_yaml(dict(config)))

    def write_status(self, status: Mapping[str, Any]) -> None:
        atomic_write_text(self.status_file, json.dumps(dict(status), indent=2, default=str) + "\n")

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        atomic_write_text(self.metrics_file, json.dumps(flatten_metrics(metrics), indent=2) + "\n")

    def write_history(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        columns: list[str] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        atomic_write_text(self.history_file, buffer.getvalue())

    def write_report(self, text: str) -> None:
        atomic_write_text(self.report_file, text)


def _make_dirs(path: Path, what: str) -> list[Path]:
    """``mkdir -p path``; returns the folders it made (outermost first). Failures name ``what``."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{what}: cannot create it: {parent} is a file, not a directory")
            if missing:
                _require_writable(parent, what)
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot create it: {exc.strerror or exc}") from None
    return list(reversed(missing))


def _require_writable(path: Path, what: str) -> None:
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: {path} is not writable by this user")


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return value


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float | str | None]:
    """Flatten nested mappings to dotted keys; numbers become floats, non-finite ones ``None``."""
    flat: dict[str, float | str | None] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=name + "."))
        elif isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, (int, float)):
            value = float(value)
            flat[name] = value if math.isfinite(value) else None
        elif hasattr(value, "item"):  # numpy / torch scalars
            value = float(value.item())
            flat[name] = value if math.isfinite(value) else None
        elif isinstance(value, str) or value is None:  # None: a non-finite number already flattened
            flat[name] = value
        else:
            raise TypeError(f"metric {name!r} has unsupported type {type(value).__name__}")
    return flat
