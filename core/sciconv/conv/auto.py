"""The ``auto`` convolution backend: per call, the fastest correct backend for the call's signature.

The choice, in order:

1. the call's exact signature was measured by ``pipeline bench-conv`` on this machine: the backend that was
   fastest there among those that computed it correctly;
2. otherwise the measured *crossover*: ``fft`` when the stride is 1 and the kernel has at least as many taps
   as the crossover of its kind (``conv1d``/``2d``/``3d``, ``dense``/``depthwise``, ``train``/``infer``),
   else ``torch``;
3. without a tuning cache (or one made on another machine), :data:`DEFAULT_CROSSOVER`, measured on a
   2-core x86 CPU with this version's backends.

The cache is a JSON file, ``$SCICONV_CACHE_DIR/conv-auto.json`` (default ``~/.cache/sciconv/``); it is
used only when its machine fingerprint (CPU, thread count, torch version, GPU) matches the running one.
A decision is memoised per raw call signature, so the per-call cost is one tuple and one dict lookup (about
1 us, 1 % of a 0.1 ms convolution).
"""

from __future__ import annotations

import json
import os
import platform
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from sciconv.atomic import atomic_write_text
from sciconv.conv.backend import ConvBackend
from sciconv.conv.signature import ConvCall

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_CROSSOVER",
    "AutoBackend",
    "AutoTable",
    "backend",
    "default_cache_path",
    "machine_fingerprint",
]

CACHE_FORMAT = "sciconv-conv-auto/1"

#: Fewest kernel taps at which ``fft`` beats ``torch`` (stride 1), per device, op, kind and grad mode;
#: ``None``: ``torch`` at every measured size. Measured with ``pipeline bench-conv`` on a 2-core x86 CPU
#: (torch 2.13, oneDNN), see ``benchmarks/conv.py``. GPUs have no defaults: ``torch`` until tuned.
DEFAULT_CROSSOVER: dict[str, dict[str, dict[str, dict[str, int | None]]]] = {
    "cpu": {
        "conv1d": {"dense": {"train": 17, "infer": 17}, "depthwise": {"train": 17, "infer": 17}},
        "conv2d": {"dense": {"train": 105, "infer": 105}, "depthwise": {"train": 21, "infer": 105}},
        "conv3d": {"dense": {"train": 302, "infer": 302}, "depthwise": {"train": 58, "infer": 302}},
    }
}

_FFT_DTYPES = ("float32", "float64")


def default_cache_path() -> Path:
    """``$SCICONV_CACHE_DIR/conv-auto.json``, else ``$XDG_CACHE_HOME/sciconv/`` or ``~/.cache/sciconv/``."""
    root = os.environ.get("SCICONV_CACHE_DIR")
    if root:
        return Path(root) / "conv-auto.json"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "sciconv" / "conv-auto.json"


@cache
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_fingerprint() -> dict[str, Any]:
    """What a tuning result depends on: CPU model, architecture, torch threads and version, GPU name."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": gpu,
    }


@dataclass
class AutoTable:
    """Tuning results: measured signatures and crossovers, for one machine.

    Attributes:
        shapes: signature key -> ``{"call": ConvCall dict, "times": {backend: seconds}, "best": name,
            "incorrect": [names]}``.
        crossover: device -> ``convNd`` -> kind -> mode -> fewest taps for ``fft`` (or ``None``).
        machine: the fingerprint of the machine measured (:func:`machine_fingerprint`).
    """

    shapes: dict[str, dict[str, Any]] = field(default_factory=dict)
    crossover: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=machine_fingerprint)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written to the cache."""
        return {"format": CACHE_FORMAT, "machine": self.machine, "crossover": self.crossover, "shapes": self.shapes}

    @classmethod
    def from_dict(cls, data: Any, source: str = "conv tuning cache") -> AutoTable:
        """Parse :meth:`to_dict`'s output; raises ``ValueError`` naming ``source`` when it is not one."""
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise ValueError(f"{source}: not a sciconv conv tuning cache (expected format {CACHE_FORMAT!r})")
        shapes, crossover, machine = data.get("shapes", {}), data.get("crossover", {}), data.get("machine", {})
        if not isinstance(shapes, dict) or not isinstance(crossover, dict) or not isinstance(machine, dict):
            raise ValueError(f"{source}: 'shapes', 'crossover' and 'machine' must be mappings")
        for key, entry in shapes.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("best"), str):
                raise ValueError(f"{source}: shape entry {key!r} has no 'best' backend")
        return cls(shapes=shapes, crossover=crossover, machine=machine)

    @classmethod
    def load(cls, path: str | Path) -> AutoTable:
        """Read a cache file (``ValueError`` if it is not valid JSON of this format)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, str(path))

    def save(self, path: str | Path) -> Path:
        """Write atomically (temporary file, then rename): a crash never leaves a half-written cache."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        return path

    def matches_machine(self) -> bool:
        """Whether the table was measured on a machine like the running one."""
        return self.machine == machine_fingerprint()


class AutoBackend(ConvBackend):
    """Dispatch each call to the backend :meth:`choose` names (see the module docstring for the rule).

    Args:
        table: tuning results to use; ``None`` reads :func:`default_cache_path` on first use (and after
            :meth:`reload`), falling back to :data:`DEFAULT_CROSSOVER`.
        use_cache: ``False`` ignores any cache (defaults only).
    """

    name = "auto"

    def __init__(self, table: AutoTable | None = None, use_cache: bool = True) -> None:
        self._given = table
        self._use_cache = use_cache
        self._table: AutoTable | None = None
        self._loaded = False
        self._status = "defaults"
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cache
    def reload(self) -> None:
        """Forget the loaded table and every memoised decision (re-read the cache on the next call)."""
        with self._lock:
            self._loaded = False
            self._table = None
            self._memo = {}

    def _ensure_table(self) -> AutoTable | None:
        if self._loaded:
            return self._table
        with self._lock:
            table, status = None, "defaults (no tuning cache)"
            if self._given is not None:
                table, status = self._given, "given table"
            elif self._use_cache:
                path = default_cache_path()
                if path.exists():
                    try:
                        loaded = AutoTable.load(path)
                    except (OSError, ValueError) as exc:
                        status = f"defaults (unreadable tuning cache: {exc})"
                    else:
                        if loaded.matches_machine():
                            table, status = loaded, f"tuned ({path})"
                        else:
                            status = f"defaults ({path} was measured on another machine or thread count)"
            else:
                status = "defaults (cache disabled)"
            self._table, self._status, self._loaded = table, status, True
        return self._table

    @property
    def status(self) -> str:
        """Where decisions come from: ``tuned (path)``, ``given table`` or ``defaults (why)``."""
        self._ensure_table()
        return self._status

    # ------------------------------------------------------------------ decisions
    def crossover(self, call: ConvCall) -> int | None:
        """Fewest taps for ``fft`` for the call's device, op, kind and mode (``None``: never)."""
        table = self._ensure_table()
        source = table.crossover if table is not None and table.crossover else DEFAULT_CROSSOVER
        try:
            return source[call.device][f"conv{call.nd}d"][call.kind][call.mode]
        except KeyError:
            return None

    def choose(self, call: ConvCall) -> tuple[str, str]:
        """The backend name for ``call`` and why (``"measured"``, or the crossover used and where it came
        from: ``"tuned crossover N taps"``, ``"default crossover N taps"``)."""
        table = self._ensure_table()
        if table is not None:
            entry = table.shapes.get(call.key)
            if entry is not None and _available(entry["best"]):
                return entry["best"], "measured"
        limit = self.crossover(call)
        source = "tuned" if table is not None and table.crossover else "default"
        if limit is None:
            return "torch", f"{source}: fft never faster"
        if call.taps >= limit and all(s == 1 for s in call.stride) and call.dtype in _FFT_DTYPES and _available("fft"):
            return "fft", f"{source} crossover {limit} taps"
        return "torch", f"{source} crossover {limit} taps"

    def convnd(
        self,
        nd: int,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> torch.Tensor:
        """Run the call on the chosen backend (decided once per raw signature, then memoised)."""
        try:  # the per-call path: one tuple, one dict lookup
            key: tuple[Any, ...] = (
                nd,
                input.shape,
                weight.shape,
                bias is None,
                stride,
                padding,
                dilation,
                groups,
                input.dtype,
                input.device,
                torch.is_grad_enabled()
                and (input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)),
            )
            op = self._memo.get(key)
        except (AttributeError, TypeError):  # lists for stride/padding, or not tensors at all
            key, op = (), None
        if op is None:
            op = self._decide(nd, input, weight, bias, stride, padding, dilation, groups)
            if key:
                self._memo[key] = op
        return op(input, weight, bias, stride, padding, dilation, groups)

    def _decide(
        self,
        nd: int,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> Any:
        from sciconv.conv import get_backend

        try:
            call = ConvCall.from_args(nd, input, weight, bias, stride, padding, dilation, groups)
        except (AttributeError, TypeError, ValueError):  # malformed arguments: the reference reports them
            return getattr(get_backend("torch"), f"conv{nd}d")
        return getattr(get_backend(self.choose(call)[0]), f"conv{nd}d")

    # The ops skip ConvBackend's rank check: the chosen backend (or torch, for a malformed call) makes it.
    def conv1d(
        self,
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> Any:
        """``F.conv1d`` on the backend chosen for the call."""
        return self.convnd(1, input, weight, bias, stride, padding, dilation, groups)

    def conv2d(
        self,
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> Any:
        """``F.conv2d`` on the backend chosen for the call."""
        return self.convnd(2, input, weight, bias, stride, padding, dilation, groups)

    def conv3d(
        self,
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> Any:
        """``F.conv3d`` on the backend chosen for the call."""
        return self.convnd(3, input, weight, bias, stride, padding, dilation, groups)


def _available(name: str) -> bool:
    from sciconv.conv import available_backends

    return name != "auto" and name in available_backends()


backend = AutoBackend()
