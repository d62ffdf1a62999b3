"""The uatr datasets: segments and both kinds of features read through the real readers, cached, recordings too
short for one segment left out with a notice, and clear errors for settings that cannot work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sciconv.errors import ConfigError, DataError
from sciconv_uatr.datasets import DeepShipDataset, SimulatedDeepShipDataset
from sciconv_uatr.recordings import AudioNotice

SMALL = {"segment_s": 2.0, "hop_s": 1.0, "n_bands": 16}


def test_simulated_dataset_segments_features_and_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = {"ships_per_class": 1, "recordings_per_ship": 2, "duration_s": 4.0, "cache_dir": str(tmp_path), **SMALL}
    bundle = SimulatedDeepShipDataset(**params).load()
    info = bundle.info
    assert info["classes"] == ["Cargo", "Passengership", "Tanker", "Tug"]
    assert len(info["recordings"]) == 8 and info["group_by_ship"]
    x, y = bundle.train.tensors
    assert x.shape == (8 * 3, 1, 16, 63)  # 3 segments of 2 s every 1 s in 4 s; 2 s / 32 ms hops + 1 frames
    assert bundle.spec.input_shape == (1, 16, 63) and bundle.spec.classes == tuple(info["classes"])
    assert info["classical"].shape[0] == len(y) and np.isfinite(info["classical"]).all()
    assert y.tolist() == [info["classes"].index(info["recordings"][r]["label"]) for r in info["segment_recording"]]
    capsys.readouterr()
    again = SimulatedDeepShipDataset(**params).load()
    assert "reusing the cached uatr-features" in capsys.readouterr().err
    np.testing.assert_array_equal(again.train.tensors[0].numpy(), x.numpy())


def test_a_short_recording_is_left_out_with_a_notice(tmp_path: Path) -> None:
    root = tmp_path / "deepship"
    SimulatedDeepShipDataset(
        ships_per_class=1,
        recordings_per_ship=1,
        duration_s=4.0,
        cache_dir=str(tmp_path),
        classes=["Tanker", "Tug"],
        **SMALL,
    ).recordings()
    source = next(tmp_path.glob("uatr-deepship-*"))
    shutil.copytree(source, root)
    signal, rate = sf.read(root / "Tug" / "1.wav")
    sf.write(root / "Tug" / "2.wav", signal[:rate], rate)  # 1 s: shorter than one 2 s segment
    with open(root / "Tug" / "tug-metafile", "a") as handle:
        handle.write("2,52,SHORT ONE,20170101,120000,500,900-600,\n")
    with pytest.warns(AudioNotice, match=r"2\.wav: 1\.00 s is shorter than one 2 s segment"):
        bundle = DeepShipDataset(root=str(root), cache_dir=str(tmp_path / "c"), **SMALL).load()
    assert [r["n_segments"] for r in bundle.info["recordings"]] == [3, 3, 0]


def test_settings_that_cannot_work_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="duration_s"):
        SimulatedDeepShipDataset(duration_s=2.0, segment_s=3.0).validate()
    with pytest.raises(ConfigError, match="Submarine"):
        SimulatedDeepShipDataset(classes=["Submarine"]).validate()
    with pytest.raises(ConfigError, match="frame_s"):
        SimulatedDeepShipDataset(frame_s=4.0, segment_s=3.0).validate()
    one_class = tmp_path / "one"
    (one_class / "Tug").mkdir(parents=True)
    sf.write(one_class / "Tug" / "1.wav", np.random.default_rng(0).normal(0, 0.1, 48000), 16000)
    with pytest.raises(DataError, match="at least two classes"):
        DeepShipDataset(root=str(one_class), cache_dir=str(tmp_path / "c"), **SMALL).load()
