"""Checkpoints: atomic writes, pruning, verification, refusal of tampered files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from sciconv import checkpoint as ck
from sciconv.atomic import file_sha256
from sciconv.errors import CheckpointError


def state() -> dict:
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {"optimizer": opt.state_dict(), "rng": ck.capture_rng(), "history": [{"epoch": 1, "loss": 0.5}]}


def test_write_verify_load_roundtrip(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    saved = ck.write_checkpoint(tmp_path, 1, model, model.state_dict(), state())
    found = ck.latest_checkpoint(tmp_path)
    assert found is not None and found.epoch == 1 and found.path == saved.path
    fresh = nn.Linear(3, 2)
    ck.load_weights(found.model_file, fresh)
    assert torch.equal(fresh.weight, model.weight)
    loaded = found.load_state()
    assert loaded["epoch"] == 1 and loaded["history"] == [{"epoch": 1, "loss": 0.5}]
    assert sorted(p.name for p in found.path.iterdir()) == [
        "best.safetensors",
        "manifest.json",
        "model.safetensors",
        "state.pt",
    ]


def test_rng_state_roundtrip() -> None:
    captured = ck.capture_rng()
    a = (torch.rand(3), __import__("numpy").random.rand(3), __import__("random").random())
    ck.restore_rng(captured)
    b = (torch.rand(3), __import__("numpy").random.rand(3), __import__("random").random())
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all() and a[2] == b[2]


def test_keeps_only_the_newest(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    for epoch in range(1, 6):
        ck.write_checkpoint(tmp_path, epoch, model, None, state(), keep=2)
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["epoch-000004", "epoch-000005"]


def test_crash_while_writing_leaves_previous_checkpoint_intact(tmp_path: Path, monkeypatch) -> None:
    model = nn.Linear(3, 2)
    ck.write_checkpoint(tmp_path, 1, model, None, state())
    before = {p.name: p.read_bytes() for p in (tmp_path / "epoch-000001").iterdir()}

    def exploding_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", exploding_save)
    with pytest.raises(OSError, match="disk full"):
        ck.write_checkpoint(tmp_path, 2, model, None, state())
    # Nothing half-written: no epoch-2 folder, no temporary folder, epoch 1 byte-identical and valid.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-000001"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "epoch-000001").iterdir()} == before
    assert ck.latest_checkpoint(tmp_path).epoch == 1


def test_flipped_byte_is_refused(tmp_path: Path) -> None:
    ck.write_checkpoint(tmp_path, 1, nn.Linear(3, 2), None, state())
    weights = tmp_path / "epoch-000001" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 does not match"):
        ck.latest_checkpoint(tmp_path)


class _Payload:
    """Unpickling this would create a marker file: proof that the state was unpickled."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_object_in_state_is_never_unpickled(tmp_path: Path) -> None:
    saved = ck.write_checkpoint(tmp_path, 1, nn.Linear(3, 2), None, state())
    marker = tmp_path / "PWNED"
    payload = _Payload()
    payload.marker = marker
    state_file = saved.path / "state.pt"
    torch.save({"format": ck.FORMAT, "epoch": 1, "evil": payload}, state_file)
    # Re-sign the manifest, as an attacker with write access could: the loader must still refuse.
    manifest = json.loads((saved.path / "manifest.json").read_text())
    manifest["sha256"]["state.pt"] = file_sha256(state_file)
    (saved.path / "manifest.json").write_text(json.dumps(manifest))
    found = ck.latest_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=r"refused.*not unpickled"):
        found.load_state()
    assert not marker.exists()


def test_garbage_weights_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"not": "safetensors"}))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        ck.load_weights(path, nn.Linear(3, 2))


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    ck.save_weights(path, nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match="do not fit the model"):
        ck.load_weights(path, nn.Linear(4, 2))


def test_missing_manifest_is_incomplete(tmp_path: Path) -> None:
    saved = ck.write_checkpoint(tmp_path, 1, nn.Linear(3, 2), None, state())
    (saved.path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete checkpoint"):
        ck.latest_checkpoint(tmp_path)
