"""Component parameters: a pipeline's ``dataset.params``, ``model.params`` and ``task.params`` checked
against the component's signature.

:func:`check_params` is used by :mod:`sciconv.pipeline` (``pipeline validate``, every run) and by the
conformance kit (:mod:`sciconv.testing`). Values are coerced to the parameters' annotations with pydantic,
so a component declares its constraints in its signature::

    from typing import Annotated
    from pydantic import Field

    def cnn(
        spec: DataSpec,
        n_filters: Annotated[int, Field(ge=1)] = 16,
        dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1,
    ) -> nn.Module: ...

and ``model.params.n_filters=0`` is refused with ``model.params.n_filters: expected an integer >= 1 for
model 'demo.cnn1d', got 0``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from sciconv.errors import ConfigError, did_you_mean

# pydantic error types that say a value has the right type but breaks a declared constraint
_CONSTRAINT_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "too_short",
        "too_long",
        "string_too_short",
        "string_too_long",
    }
)

_TYPE_PHRASES: dict[Any, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
    bytes: "bytes",
    list: "a list",
    tuple: "a tuple",
    dict: "a mapping",
    set: "a set",
    frozenset: "a set",
}


def check_params(kind: str, name: str, factory: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against ``factory``'s keyword signature and coerce them to its annotations.

    For models the first parameter (the :class:`DataSpec`) is not a pipeline parameter. Unknown
    names get a did-you-mean, missing required ones are named, and values that do not fit the
    annotation (its type, or a constraint declared with ``typing.Annotated``) are reported with what
    was expected, in one line naming the pipeline key (``model.params.n_filters: ...``).
    """
    from pydantic import TypeAdapter, ValidationError

    where = f"{kind}.params"
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return dict(params)
    parameters = list(signature.parameters.values())
    if kind == "model":
        if not parameters:
            raise ConfigError(f"model {name!r}: its factory takes no DataSpec argument")
        parameters = parameters[1:]
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    named = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        hints = typing.get_type_hints(target, include_extras=True)  # keeps Annotated[...] constraints
    except Exception:
        hints = {}
    checked: dict[str, Any] = {}
    for key, value in params.items():
        if key not in named:
            if accepts_any:
                checked[key] = value
                continue
            if key == "n_jobs" and kind == "task":
                raise ConfigError(
                    f"{where}.n_jobs: task {name!r} takes its worker count from the pipeline's parallel.n_jobs;"
                    " move the setting there"
                )
            raise ConfigError(
                f"{where}: unknown parameter {key!r} for {kind} {name!r}{did_you_mean(key, named)}"
                f" (accepted: {', '.join(named) or 'none'})"
            )
        hint = hints.get(key)
        if hint is None or hint is Any:
            checked[key] = value
            continue
        if isinstance(value, bool) and _number_not_bool(hint):  # pydantic's lax mode would read True as 1
            wanted = _describe_type(hint) or "a number"
            raise ConfigError(f"{where}.{key}: expected {wanted} for {kind} {name!r}, got {value!r}")
        try:
            checked[key] = TypeAdapter(hint).validate_python(value)
        except ValidationError as exc:
            raise ConfigError(f"{where}.{key}: {_mismatch(hint, exc, value, f'{kind} {name!r}')}") from None
        except Exception:
            checked[key] = value
    missing = [p.name for p in named.values() if p.default is inspect.Parameter.empty and p.name not in params]
    if missing:
        raise ConfigError(f"{where}: {kind} {name!r} requires {', '.join(repr(m) for m in missing)}")
    return checked


def _mismatch(hint: Any, exc: Any, value: Any, component: str) -> str:
    """What was expected of ``component`` (``model 'x'``) and what was given, in one line.

    A broken constraint reads ``expected an integer >= 1 for model 'x', got 0``; a value of the wrong type
    keeps pydantic's reason: ``expected int for model 'x', got 'abc' (input should be a valid integer, ...)``.
    """
    errors = exc.errors()
    if any(err["type"] in _CONSTRAINT_ERRORS for err in errors):
        wanted = _describe_type(hint)
        if wanted is not None:
            return f"expected {wanted} for {component}, got {value!r}"
    base, constraints = _split_annotated(hint)
    expected = getattr(base, "__name__", None) or str(base).replace("typing.", "")
    if constraints:
        expected += " " + " and ".join(constraints)
    msg = str(errors[0]["msg"]).lower()
    return f"expected {expected} for {component}, got {value!r} ({msg})"


def _describe_type(hint: Any) -> str | None:
    """``Annotated[int, Field(ge=1)]`` -> ``"an integer >= 1"``; ``None`` for annotations it cannot put
    in words (the caller then shows pydantic's own reason)."""
    base, constraints = _split_annotated(hint)
    origin = typing.get_origin(base)
    if origin is typing.Union or origin is types.UnionType:
        parts = [_describe_type(arg) for arg in typing.get_args(base)]
        if any(part is None for part in parts):
            return None
        text = " or ".join(typing.cast(list[str], parts))
    elif base is type(None):
        text = "null"
    else:
        phrase = _TYPE_PHRASES.get(origin or base)
        if phrase is None:
            return None
        text = phrase
    return " ".join([text, " and ".join(constraints)]) if constraints else text


def _number_not_bool(hint: Any) -> bool:
    """Whether ``hint`` takes an int or a float but not a bool (``int``, ``Annotated[int, ...]``,
    ``float | None``): a boolean given for it is a mistake, not the number 0 or 1."""
    base, _ = _split_annotated(hint)
    origin = typing.get_origin(base)
    members = typing.get_args(base) if origin is typing.Union or origin is types.UnionType else (base,)
    members = tuple(_split_annotated(m)[0] for m in members)
    return any(m in (int, float) for m in members) and not any(m in (bool, Any) for m in members)


def _split_annotated(hint: Any) -> tuple[Any, list[str]]:
    """``Annotated[base, *metadata]`` -> ``(base, [">= 1", ...])``: the constraints in words (those of
    ``pydantic.Field(...)`` and of ``annotated_types`` objects); any other hint -> ``(hint, [])``."""
    if typing.get_origin(hint) is not typing.Annotated:
        return hint, []
    base, *metadata = typing.get_args(hint)
    constraints: list[str] = []
    for item in metadata:
        for constraint in getattr(item, "metadata", None) or [item]:  # a pydantic FieldInfo holds a list
            constraints.extend(_constraint_words(constraint))
    return base, constraints


def _constraint_words(constraint: Any) -> list[str]:
    words = []
    for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        bound = getattr(constraint, attr, None)
        if bound is not None and not callable(bound):
            words.append(f"{op} {bound}")
    multiple = getattr(constraint, "multiple_of", None)
    if multiple is not None:
        words.append(f"a multiple of {multiple}")
    min_length = getattr(constraint, "min_length", None)
    if min_length is not None:
        words.append(f"of length >= {min_length}")
    max_length = getattr(constraint, "max_length", None)
    if max_length is not None:
        words.append(f"of length <= {max_length}")
    return words


__all__ = ["check_params"]
