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


class CheckpointError(SciconvError):
    """A checkpoint is missing, corrupt or was modified after it was written."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidates to ``word``, or ``""``."""
    matches = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
