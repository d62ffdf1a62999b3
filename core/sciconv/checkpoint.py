"""Checkpoints that survive a killed run and refuse tampering.

One checkpoint is a directory ``epoch-NNNNNN/`` holding

* ``model.safetensors``: the model's weights (and ``best.safetensors``, the best epoch's weights);
* ``state.pt``: optimizer state, RNG states, epoch, history; written with ``torch.save`` of plain
  containers and tensors, read back with ``torch.load(weights_only=True)``: never unpickled;
* ``manifest.json``: format version and the SHA-256 of every file, checked before anything is read.

It is written under a temporary name and renamed into place, so a crash mid-write leaves the
previous checkpoint untouched and no partial one; older checkpoints are pruned only afterwards.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sciconv.atomic import atomic_path, atomic_write_text, file_sha256
from sciconv.errors import CheckpointError

FORMAT = "sciconv-checkpoint/1"
_EPOCH_DIR = re.compile(r"^epoch-(\d{6})$")


def save_weights(path: Path, module: torch.nn.Module) -> None:
    """Save a module's state dict as safetensors, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})


def load_weights(path: Path, module: torch.nn.Module) -> None:
    """Load safetensors weights into ``module``; any problem is a :class:`CheckpointError`."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the model: {first}") from None


# --- RNG state as weights_only-loadable data ----------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """The global RNG states of python, numpy and torch (CPU and CUDA) as tensors and lists."""
    _, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate((3, tuple(state["python"]), None))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- checkpoint directories ---------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A verified checkpoint on disk."""

    path: Path
    epoch: int

    @property
    def model_file(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def best_file(self) -> Path:
        return self.path / "best.safetensors"

    def load_state(self) -> dict[str, Any]:
        """The training state, read with ``weights_only=True`` (never unpickled)."""
        path = self.path / "state.pt"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: refused: not a plain-data training state ({first}); it was not unpickled"
            ) from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a {FORMAT} training state")
        return state


def write_checkpoint(
    directory: Path,
    epoch: int,
    model: torch.nn.Module,
    best_model_state: dict[str, torch.Tensor] | None,
    state: dict[str, Any],
    keep: int = 2,
) -> Checkpoint:
    """Write ``directory/epoch-NNNNNN`` atomically, then prune to the ``keep`` newest."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"epoch-{epoch:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-epoch-{epoch:06d}-", dir=directory))
    try:
        save_weights(tmp / "model.safetensors", model)
        if best_model_state is not None:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in best_model_state.items()},
                str(tmp / "best.safetensors"),
                metadata={"format": FORMAT},
            )
        torch.save({**state, "format": FORMAT, "epoch": epoch}, tmp / "state.pt")
        files = sorted(p.name for p in tmp.iterdir())
        manifest = {"format": FORMAT, "epoch": epoch, "sha256": {name: file_sha256(tmp / name) for name in files}}
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2))
        if final.exists():  # re-written after a resume from an earlier checkpoint
            stale = directory / f".stale-{final.name}-{os.getpid()}"
            os.replace(final, stale)
            os.replace(tmp, final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return Checkpoint(final, epoch)


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint directories under ``directory``, oldest first (temporary ones ignored)."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and _EPOCH_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(_EPOCH_DIR.match(p.name).group(1)))  # type: ignore[union-attr]


def verify_checkpoint(path: Path) -> Checkpoint:
    """Check a checkpoint's manifest and hashes; raise :class:`CheckpointError` if anything is off."""
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: incomplete checkpoint (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "sha256" not in manifest:
        raise CheckpointError(f"{manifest_path}: not a {FORMAT} manifest")
    for required in ("model.safetensors", "state.pt"):
        if required not in manifest["sha256"]:
            raise CheckpointError(f"{manifest_path}: does not list {required}")
    for name, expected in manifest["sha256"].items():
        file = path / name
        if not file.is_file() or "/" in name or name.startswith("."):
            raise CheckpointError(f"{path}: {name} is missing")
        if file_sha256(file) != expected:
            raise CheckpointError(
                f"{file}: refused: its SHA-256 does not match the manifest (corrupt or modified after it was written)"
            )
    return Checkpoint(path, int(manifest["epoch"]))


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete what a killed writer left behind (``.tmp-*`` folders and ``.*.tmp`` files) in ``directory``.

    Only call this when no other process writes there (on resume). Returns what was removed.
    """
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if p.name.startswith((".tmp-", ".stale-")) or p.name.endswith(".tmp")]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale


def latest_checkpoint(directory: Path) -> Checkpoint | None:
    """The newest checkpoint under ``directory``, verified; ``None`` if there is none.

    A checkpoint that fails verification is an error, never silently skipped: resuming from an older
    one would quietly repeat work with a different result.
    """
    found = list_checkpoints(directory)
    if not found:
        return None
    return verify_checkpoint(found[-1])
