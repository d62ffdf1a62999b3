"""What a run learned, kept for applying it to new data: the run directory's ``trained/`` folder.

::

    trained/
        manifest.json          format, the training data's DataSpec, the SHA-256 of every file
        <name>.safetensors     weights of a trained network (``ctx.save_weights``)
        <name>.arrays.safetensors  fitted arrays: normalisation statistics, embeddings (``ctx.save_arrays``)
        <name>.json            fitted settings: thresholds, the chosen model, class names (``ctx.save_state``)

A task saves what its ``predict`` needs while it runs. The files go to a staging folder, which replaces
``trained/`` as a whole when the run completes (:meth:`TrainedWriter.commit`). A run that fails, or an
extension of a finished run that fails, leaves the earlier ``trained/`` as it was; its staging folder stays
with it, so that a resumed run, whose task skips the parts it already did, still commits their state. Nothing
is pickled: the
weights and arrays are safetensors, the settings JSON. :class:`TrainedState` checks every file against the
manifest before anything is read, as checkpoints are checked.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_directory, atomic_write_text, file_sha256
from sciconv.errors import CheckpointError, ConfigError
from sciconv.spec import DataSpec

FORMAT = "sciconv-trained/1"
FOLDER = "trained"
_STAGING = ".trained-staging"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"trained-state name {name!r}: expected letters, digits and '_.@-' (one file name)")
    return name


class TrainedWriter:
    """Collects the fitted state of one run (in ``<run>/.trained-staging``) until :meth:`commit`."""

    def __init__(self, run_path: Path) -> None:
        self.run_path = Path(run_path)
        self.staging = self.run_path / _STAGING
        self.names: set[str] = set()

    def _target(self, name: str, suffix: str) -> Path:
        name = _check_name(name)
        self.staging.mkdir(parents=True, exist_ok=True)
        self.names.add(name + suffix)
        return self.staging / f"{name}{suffix}"

    def save_weights(self, name: str, module: Any) -> Path:
        """Save ``module``'s state dict as ``<name>.safetensors``."""
        from sciconv.checkpoint import save_weights

        path = self._target(name, ".safetensors")
        save_weights(path, module)
        return path

    def save_arrays(self, name: str, arrays: Mapping[str, Any]) -> Path:
        """Save named arrays (numpy or torch) as ``<name>.arrays.safetensors``."""
        import numpy as np
        import torch
        from safetensors.torch import save_file

        tensors = {}
        for key, value in arrays.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
            tensors[str(key)] = tensor.detach().cpu().contiguous()
        path = self._target(name, ".arrays.safetensors")
        save_file(tensors, str(path), metadata={"format": FORMAT})
        return path

    def save_state(self, name: str, data: Mapping[str, Any]) -> Path:
        """Save plain data (JSON: numbers, strings, lists, mappings) as ``<name>.json``."""
        path = self._target(name, ".json")
        try:
            text = json.dumps(dict(data), indent=2, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"trained state {name!r}: not plain JSON data ({exc})") from None
        atomic_write_text(path, text + "\n")
        return path

    def commit(self, spec: DataSpec | None, info: Mapping[str, Any] | None = None) -> bool:
        """Write the manifest and put the staged files in place as ``trained/``; ``False`` when the task saved
        nothing (an earlier ``trained/`` is then kept)."""
        if not self.staging.is_dir() or not any(self.staging.iterdir()):
            self.discard()
            return False
        with atomic_directory(self.run_path / FOLDER) as tmp:
            files = {}
            for item in sorted(self.staging.iterdir()):
                if item.is_file():
                    shutil.move(str(item), tmp / item.name)
                    files[item.name] = file_sha256(tmp / item.name)
            manifest = {
                "format": FORMAT,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                "spec": spec.to_dict() if spec is not None else None,
                "info": dict(info or {}),
                "files": files,
            }
            atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        self.discard()
        return True

    def discard(self) -> None:
        """Forget what was staged (a failed run)."""
        shutil.rmtree(self.staging, ignore_errors=True)


class TrainedState:
    """The ``trained/`` folder of a completed run, every file verified against its manifest on opening."""

    def __init__(self, run_path: str | Path) -> None:
        self.path = Path(run_path) / FOLDER
        manifest_file = self.path / "manifest.json"
        if not manifest_file.is_file():
            raise ConfigError(
                f"{Path(run_path)}: the run saved no trained state ({FOLDER}/manifest.json is missing): its task "
                "does not implement predict, or the run was made by an older sciconv; run it again to predict with it"
            )
        try:
            manifest = json.loads(manifest_file.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{manifest_file}: unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(f"{manifest_file}: not a {FORMAT} manifest")
        self.files: dict[str, str] = dict(manifest.get("files", {}))
        for name, digest in self.files.items():
            path = self.path / name
            if not path.is_file():
                raise CheckpointError(f"{path}: listed in the manifest but missing")
            if file_sha256(path) != digest:
                raise CheckpointError(f"{path}: its SHA-256 does not match the manifest (modified after the run)")
        self.info: dict[str, Any] = dict(manifest.get("info") or {})
        spec = manifest.get("spec")
        self.spec: DataSpec | None = None
        if spec:
            self.spec = DataSpec(
                input_shape=tuple(spec["input_shape"]),
                n_outputs=spec["n_outputs"],
                task_type=spec["task_type"],
                sfreq=spec.get("sfreq"),
                channels=tuple(spec["channels"]) if spec.get("channels") is not None else None,
                classes=tuple(spec["classes"]) if spec.get("classes") is not None else None,
                units=spec.get("units"),
                extra=spec.get("extra") or {},
            )

    def _file(self, name: str, suffix: str) -> Path:
        file = _check_name(name) + suffix
        if file not in self.files:
            known = ", ".join(sorted(self.files)) or "none"
            raise CheckpointError(f"{self.path}: the run saved no {file!r} (saved: {known})")
        return self.path / file

    def has(self, name: str) -> bool:
        """Whether anything was saved under ``name``."""
        return any(f in self.files for f in (f"{name}.safetensors", f"{name}.arrays.safetensors", f"{name}.json"))

    def load_weights(self, name: str, module: Any) -> Any:
        """Load the weights saved as ``name`` into ``module`` (which must have the same layout); returns it."""
        from sciconv.checkpoint import load_weights

        load_weights(self._file(name, ".safetensors"), module)
        return module

    def load_arrays(self, name: str) -> dict[str, Any]:
        """The arrays saved as ``name``, as numpy arrays."""
        from safetensors.numpy import load_file

        return dict(load_file(str(self._file(name, ".arrays.safetensors"))))

    def load_state(self, name: str) -> dict[str, Any]:
        """The plain data saved as ``name``."""
        return json.loads(self._file(name, ".json").read_text())


__all__ = ["FOLDER", "TrainedState", "TrainedWriter"]
