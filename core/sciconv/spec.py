"""The :class:`DataSpec`: what a model needs to know about the data to size itself.

Kept free of torch so that it can be imported by light code (registration, the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sciconv.errors import DataError

TASK_TYPES = ("classification", "regression", "segmentation", "forecasting", "reconstruction")


@dataclass(frozen=True)
class DataSpec:
    """Shapes, channels, rates and classes of one sample, as seen by a model.

    Attributes:
        input_shape: shape of one input sample without the batch axis, e.g. ``(n_chans, n_times)``
            for a multichannel time series or ``(C, H, W)`` for an image.
        n_outputs: number of model outputs per sample (classes for classification, targets for
            regression).
        task_type: one of ``classification``, ``regression``, ``segmentation``, ``forecasting``,
            ``reconstruction``.
        sfreq: sampling rate in Hz, for time series; ``None`` otherwise.
        channels: channel names, in the order of the channel axis (``input_shape[0]``).
        classes: class names, index ``i`` naming output ``i``; required for classification.
        units: physical unit of the input values (``"uV"``, ``"K"``, ...).
        extra: anything else a domain model needs (sub-band count, graph size, ...).
    """

    input_shape: tuple[int, ...]
    n_outputs: int
    task_type: str = "classification"
    sfreq: float | None = None
    channels: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    units: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        if not shape or any(s <= 0 for s in shape):
            raise DataError(f"DataSpec.input_shape must be a non-empty tuple of positive sizes, got {shape}")
        if int(self.n_outputs) <= 0:
            raise DataError(f"DataSpec.n_outputs must be positive, got {self.n_outputs}")
        if self.task_type not in TASK_TYPES:
            raise DataError(f"DataSpec.task_type must be one of {', '.join(TASK_TYPES)}; got {self.task_type!r}")
        if self.sfreq is not None and not self.sfreq > 0:
            raise DataError(f"DataSpec.sfreq must be a positive rate in Hz, got {self.sfreq}")
        if self.channels is not None:
            object.__setattr__(self, "channels", tuple(self.channels))
            if len(self.channels) != shape[0]:
                raise DataError(
                    f"DataSpec.channels names {len(self.channels)} channels but input_shape[0] is {shape[0]}"
                )
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
            if self.task_type == "classification" and len(self.classes) != self.n_outputs:
                raise DataError(f"DataSpec.classes names {len(self.classes)} classes but n_outputs is {self.n_outputs}")
        if self.task_type == "classification" and self.classes is None:
            raise DataError("DataSpec.classes is required when task_type is 'classification'")

    @property
    def n_chans(self) -> int:
        """Size of the first (channel) axis of a sample."""
        return self.input_shape[0]

    @property
    def n_times(self) -> int:
        """Size of the last (time or width) axis of a sample."""
        return self.input_shape[-1]

    def to_dict(self) -> dict[str, Any]:
        """A plain, YAML/JSON-serialisable description (for reports and saved configs)."""
        return {
            "input_shape": list(self.input_shape),
            "n_outputs": self.n_outputs,
            "task_type": self.task_type,
            "sfreq": self.sfreq,
            "channels": list(self.channels) if self.channels is not None else None,
            "classes": list(self.classes) if self.classes is not None else None,
            "units": self.units,
            "extra": dict(self.extra),
        }


SPEC_FIELDS = ("input_shape", "n_outputs", "task_type", "sfreq", "channels", "classes")


def describe_spec(spec: DataSpec) -> str:
    """One phrase for messages: ``"9 channels Pz..O2 at 250 Hz, samples of shape (9, 250), 40 classes"``."""
    parts = []
    if spec.channels:
        names = spec.channels
        shown = f"{names[0]}..{names[-1]}" if len(names) > 3 else ",".join(names)
        parts.append(f"{len(names)} channels {shown}")
    if spec.sfreq:
        parts.append(f"at {spec.sfreq:g} Hz")
    parts.append(f"samples of shape {tuple(spec.input_shape)}")
    if spec.classes:
        parts.append(f"{len(spec.classes)} classes")
    else:
        parts.append(f"{spec.n_outputs} outputs ({spec.task_type})")
    return ", ".join(parts).replace(", at ", " at ")


def check_compatible(trained: DataSpec, new: DataSpec, fields: tuple[str, ...] = SPEC_FIELDS) -> None:
    """Refuse new data a trained model cannot be applied to: a :class:`DataError` naming both sides
    (``"the run trained on 9 channels Pz..O2 at 250 Hz, ...; these data have 8 channels ... at 256 Hz"``).

    ``fields`` are the :class:`DataSpec` fields that must agree (a task whose model takes inputs of any size
    leaves out ``input_shape``). Channel names and classes are compared only where both sides name them."""
    differ = []
    for name in fields:
        a, b = getattr(trained, name), getattr(new, name)
        if name in ("channels", "classes", "sfreq") and (a is None or b is None):
            continue
        if a != b:
            differ.append(name)
    if differ:
        raise DataError(
            f"the run trained on {describe_spec(trained)}; these data have {describe_spec(new)} "
            f"(different {', '.join(differ)}): the trained model cannot be applied to them"
        )
