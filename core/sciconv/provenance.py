"""How a component given as a Python object is recorded with a run, and found again.

A scripted pipeline may use its own objects instead of registered names (``pipe.dataset = MyData(n=100)``).
The run's ``config.yaml`` must still say what ran: :func:`describe_component` records such an object by
its class (``python:<module>:<qualified name>``, or its registered name when the class is a registered
component) and its actual parameters, read back from the object the way scikit-learn's ``get_params``
does (each ``__init__`` argument stored as an attribute of the same name). When that is impossible, or
the class lives in a script no other process can import, it says why the run cannot be repeated from
the command line. :func:`load_reference` imports a recorded ``python:`` reference again, so that
``pipeline run config.yaml`` repeats a run whose components are importable.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sciconv.errors import ConfigError
from sciconv.registry import get_registry

PYTHON_PREFIX = "python:"


@dataclass(frozen=True)
class ComponentRecord:
    """A component as recorded in ``config.yaml``: its name, its parameters, and why it cannot be built
    again from that record (``None`` when it can)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    not_repeatable: str | None = None


def is_python_reference(name: str) -> bool:
    """Whether a component name is a ``python:<module>:<qualified name>`` reference."""
    return name.startswith(PYTHON_PREFIX)


def describe_component(kind: str, obj: Any, params: Mapping[str, Any]) -> ComponentRecord:
    """The record of ``obj`` used as the pipeline's ``kind`` (``"dataset"``, ``"model"`` or ``"task"``).

    A model is a factory (a class or function) called with the pipeline's ``model.params``, which are then
    its parameters; a dataset or task is an object whose parameters are read back from its attributes.
    """
    factory = kind == "model" and (inspect.isclass(obj) or inspect.isfunction(obj))
    target = obj if factory else type(obj)
    name = _registered_name(kind, target) or f"{PYTHON_PREFIX}{target.__module__}:{target.__qualname__}"
    reasons: list[str] = []
    if target.__module__ == "__main__":
        reasons.append(
            f"it is {target.__qualname__}, defined in the script that ran (module '__main__'), which `pipeline run` "
            "cannot import; move it into an importable module (or a plugin) to make the run repeatable"
        )
    elif "<locals>" in target.__qualname__ or "<lambda>" in target.__qualname__:
        reasons.append(f"it is {target.__qualname__}, defined inside a function, which cannot be imported by name")
    if factory:
        recorded = dict(params)
    elif kind == "model":  # a factory object (functools.partial, a callable instance): its arguments are hidden
        recorded = {}
        reasons.append(f"it is a callable {type(obj).__name__} object whose arguments cannot be read back")
    else:
        recorded, missing = _read_back(obj)
        if missing:
            reasons.append(
                f"its parameter(s) {', '.join(missing)} could not be read back from the object (a class that keeps "
                "each __init__ argument as an attribute of the same name can be recorded and repeated)"
            )
    return ComponentRecord(name=name, params=recorded, not_repeatable="; ".join(reasons) or None)


def load_reference(kind: str, name: str) -> Any:
    """The object named by a ``python:<module>:<qualified name>`` reference (a :class:`ConfigError`
    naming ``<kind>.name`` when it cannot be imported)."""
    ref = name.removeprefix(PYTHON_PREFIX)
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise ConfigError(f"{kind}.name: {name!r}: expected 'python:<module>:<qualified name>'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # an import may fail in any way; the user needs to know which name failed
        raise ConfigError(f"{kind}.name: cannot import {name!r}: {type(exc).__name__}: {exc}") from None
    return obj


def _registered_name(kind: str, target: Any) -> str | None:
    """The registered name of the component class or function ``target``, if it is one (compared by its
    reference string, so nothing is imported)."""
    ref = f"{target.__module__}:{target.__qualname__}"
    for entry in get_registry().entries[kind + "s"].values():
        if entry.ref == ref or entry.ref is target:
            return entry.name
    return None


def _read_back(obj: Any) -> tuple[dict[str, Any], list[str]]:
    """``obj``'s constructor arguments read from its attributes, as plain data; and the ones that could
    not be (no attribute of that name, or a value a YAML file cannot hold)."""
    try:
        signature = inspect.signature(type(obj))
    except (TypeError, ValueError):
        return {}, ["(its signature cannot be inspected)"]
    params: dict[str, Any] = {}
    missing: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if not hasattr(obj, parameter.name):
            missing.append(repr(parameter.name))
            continue
        ok, value = _plain(getattr(obj, parameter.name))
        if ok:
            params[parameter.name] = value
        else:
            missing.append(f"{parameter.name!r} (a {type(getattr(obj, parameter.name)).__name__})")
    return params, missing


def _plain(value: Any) -> tuple[bool, Any]:
    """``(True, value as YAML data)`` for scalars, paths and nested lists / mappings of them; else ``(False, None)``."""
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, PurePath):
        return True, str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return _plain(value.item())
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        pairs = {k: _plain(v) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


__all__ = ["ComponentRecord", "describe_component", "is_python_reference", "load_reference"]
