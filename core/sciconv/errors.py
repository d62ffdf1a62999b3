"""User-facing errors.

Every error a user can cause (a bad pipeline file, an unknown name, a corrupt checkpoint, a dataset
file in the wrong layout) is a :class:`SciconvError`. The CLI prints its message on one line and exits
non-zero; the traceback is shown only with ``--debug``. Anything else escaping a run is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SciconvError(Exception):
    """Base class of errors caused by the user's input or environment, not by a bug.

    ``exit_code`` is what the CLI exits with: 2 for a problem with what was asked (configuration,
    names, files), 1 for a failure while running.
    """

    exit_code = 1


class ConfigError(SciconvError):
    """A pipeline file, an override or a component parameter is invalid."""

    exit_code = 2


class NotFoundError(SciconvError):
    """A pipeline, component, file or run directory that was named does not exist."""

    exit_code = 2


class PluginError(SciconvError):
    """A plugin failed to load, or two plugins registered the same name."""


class DataError(SciconvError):
    """A dataset's files are missing, malformed or inconsistent."""


class MissingPathError(NotFoundError, DataError):
    """A dataset path the user gave (``dataset.params.root``) does not exist: a problem with what was asked
    (exit 2, refused before the run starts), and a data error for code that catches those."""


class CheckpointError(SciconvError):
    """A checkpoint is missing, corrupt or was modified after it was written."""


class TrainingDivergedError(SciconvError):
    """Training produced a NaN or infinite loss or metric: the fit stops and the run fails, so that such a
    number is never reported as a result."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidates to ``word``, or ``""``."""
    matches = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal that asks a process to end (SIGTERM: how SLURM, Kubernetes and ``kill``
    stop jobs), raised in the main thread as Ctrl-C raises :class:`KeyboardInterrupt`. ``exit_code`` is the
    shell's convention, 128 + the signal number."""

    def __init__(self, signal_name: str, signal_number: int) -> None:
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + signal_number
