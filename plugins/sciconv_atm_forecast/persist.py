"""Fitted scikit-learn-style regressors of the pooled families as plain JSON plus named arrays (no pickle).

:func:`encode_estimator` turns a fitted estimator (random forest, SVR behind
:class:`~sciconv_atm_forecast.regressors.SubsampledRegressor`, MLP, GMDH, GRNN) into ``(state, arrays)``: ``state``
is JSON data (numbers, strings, lists, mappings) that names every array it refers to, ``arrays`` the numpy arrays
(saved as safetensors by the run context). :func:`decode_estimator` rebuilds the estimator from the two; only the
classes of :data:`ALLOWED` are ever built, so a tampered state cannot make it import or call anything else.

Training-only attributes that hold objects (the MLP's optimizer and random generator) are left out: prediction
does not use them. Decision trees are kept through their own state (node table and leaf values), the node table as
raw bytes with its exact record layout. A rebuilt estimator computes the same floats as the original: the same
arrays go through the same code.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

ALLOWED: frozenset[str] = frozenset(
    {
        "sklearn.ensemble._forest:RandomForestRegressor",
        "sklearn.tree._classes:DecisionTreeRegressor",
        "sklearn.svm._classes:SVR",
        "sklearn.neural_network._multilayer_perceptron:MLPRegressor",
        "sciconv_atm_forecast.regressors:SubsampledRegressor",
        "sciconv_atm_forecast.regressors:GMDH",
        "sciconv_atm_forecast.regressors:GRNN",
    }
)
"""The estimator classes :func:`decode_estimator` builds (``module:qualname``)."""

SKIPPED: frozenset[str] = frozenset({"_optimizer", "_random_state"})
"""Fitted attributes that only training uses (objects without a safe plain form)."""


def _class_path(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _dtype_state(dtype: np.dtype) -> Any:
    if dtype.fields is None:
        return dtype.str
    return {
        "names": list(dtype.names or ()),
        "formats": [dtype.fields[n][0].str for n in dtype.names or ()],
        "offsets": [int(dtype.fields[n][1]) for n in dtype.names or ()],
        "itemsize": int(dtype.itemsize),
    }


def _dtype_from(state: Any) -> np.dtype:
    return np.dtype(state)


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray) -> dict[str, Any]:
        key = f"a{len(self.arrays)}"
        value = np.array(value, copy=True, order="C")  # a copy: arrays sharing memory cannot be saved apart
        if value.dtype.fields is not None or value.dtype.kind not in "biuf":
            if value.dtype.hasobject:
                raise TypeError(f"cannot keep an array of Python objects (dtype {value.dtype})")
            self.arrays[key] = np.frombuffer(value.tobytes(), dtype=np.uint8).copy()
            return {"__bytes__": key, "dtype": _dtype_state(value.dtype), "shape": list(value.shape)}
        self.arrays[key] = value
        return {"__array__": key}

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return int(value) if isinstance(value, int) else {"__scalar__": value.dtype.str, "v": int(value)}
        if isinstance(value, float | np.floating):
            if not np.isfinite(value):
                return {"__float__": repr(float(value)), "dtype": np.asarray(value).dtype.str}
            return (
                float(value) if type(value) is float else {"__scalar__": np.asarray(value).dtype.str, "v": float(value)}
            )
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, tuple | list):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"__tuple__": items} if isinstance(value, tuple) else items
        if isinstance(value, dict):
            return {"__dict__": {str(k): self.encode(v, f"{where}.{k}") for k, v in value.items()}}
        from sklearn.tree._tree import Tree

        if isinstance(value, Tree):
            n_classes, n_outputs = value.__reduce__()[1][1:]
            return {
                "__tree__": {
                    "n_features": int(value.n_features),
                    "n_classes": self.array(np.asarray(n_classes)),
                    "n_outputs": int(n_outputs),
                    "state": self.encode(value.__getstate__(), f"{where}.state"),
                }
            }
        path = _class_path(value)
        if path in ALLOWED:
            attrs = {k: self.encode(v, f"{where}.{k}") for k, v in vars(value).items() if k not in SKIPPED}
            return {"__estimator__": path, "attrs": attrs}
        raise TypeError(f"{where}: cannot keep a {type(value).__name__} without pickle")


def encode_estimator(estimator: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted estimator of :data:`ALLOWED` as ``(JSON state, arrays)``; anything else is a TypeError."""
    if _class_path(estimator) not in ALLOWED:
        raise TypeError(f"cannot keep a {type(estimator).__name__} without pickle")
    encoder = _Encoder()
    state = encoder.encode(estimator, type(estimator).__name__)
    return {"estimator": state}, encoder.arrays


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__bytes__" in value:
        raw = arrays[value["__bytes__"]]
        return np.frombuffer(raw.tobytes(), dtype=_dtype_from(value["dtype"])).reshape(value["shape"]).copy()
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["v"])
    if "__float__" in value:
        return np.dtype(value["dtype"]).type(float(value["__float__"]))
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, arrays) for k, v in value["__dict__"].items()}
    if "__tree__" in value:
        from sklearn.tree._tree import Tree

        spec = value["__tree__"]
        tree = Tree(
            int(spec["n_features"]),
            np.asarray(_decode(spec["n_classes"], arrays), dtype=np.intp),
            int(spec["n_outputs"]),
        )
        tree.__setstate__(_decode(spec["state"], arrays))
        return tree
    if "__estimator__" in value:
        path = value["__estimator__"]
        if path not in ALLOWED:
            raise ValueError(f"refusing to build {path!r}: not a known fitted estimator")
        module, _, name = path.partition(":")
        cls = getattr(importlib.import_module(module), name)
        obj = cls.__new__(cls)
        obj.__dict__.update({k: _decode(v, arrays) for k, v in value["attrs"].items()})
        return obj
    raise ValueError(f"unreadable estimator state: keys {sorted(value)}")


def decode_estimator(state: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The estimator :func:`encode_estimator` kept, rebuilt from its JSON state and arrays."""
    return _decode(state["estimator"], arrays)


__all__ = ["ALLOWED", "decode_estimator", "encode_estimator"]
