"""Audio reading of the uatr plugin: scaling, channels, resampling and the bad-input checks."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sciconv.errors import ConfigError, DataError
from sciconv_uatr.recordings import AudioNotice
from sciconv_uatr.wav_io import audio_info, read_audio

SAMPLE = Path("/work/shared/data/deepship-sample")
RATE = 8000


def _sine(n: int = RATE, freq: float = 1000.0, amp: float = 0.5, rate: int = RATE) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


@pytest.mark.parametrize(
    ("subtype", "tol"),
    [("PCM_U8", 1 / 64), ("PCM_16", 1e-4), ("PCM_24", 1e-6), ("PCM_32", 1e-6), ("FLOAT", 1e-7), ("DOUBLE", 1e-7)],
)
def test_subtypes_read_as_mono_float32(tmp_path: Path, subtype: str, tol: float) -> None:
    x = _sine()
    path = tmp_path / f"s_{subtype}.wav"
    sf.write(path, x, RATE, subtype=subtype)
    assert audio_info(path) == (RATE, 1.0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)
        y, rate = read_audio(path)
    assert rate == RATE
    assert y.dtype == np.float32 and y.shape == (RATE,)
    np.testing.assert_allclose(y, x, atol=tol)


def test_integer_pcm_is_scaled_by_full_scale(tmp_path: Path) -> None:
    path = tmp_path / "int16.wav"
    sf.write(path, np.array([-32768, 16384, 0, 8192, 100], dtype=np.int16), RATE, subtype="PCM_16")
    with pytest.warns(AudioNotice, match=r"int16\.wav: 20\.00 % of the samples are clipped"):  # the -32768
        y, _ = read_audio(path)
    np.testing.assert_array_equal(y, np.array([-1.0, 0.5, 0.0, 0.25, 100 / 32768], dtype=np.float32))


def test_float_file_is_returned_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    x = np.full(100, 2.5)
    x[::2] = -3.0
    sf.write(path, x, RATE, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)  # no clipping notice for float files
        y, _ = read_audio(path)
    np.testing.assert_array_equal(y, x.astype(np.float32))


def test_stereo_gives_channel_0_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    left, right = _sine(amp=0.25), _sine(amp=0.5, freq=300)
    sf.write(path, np.stack([left, right], axis=1), RATE, subtype="PCM_16")
    assert audio_info(path) == (RATE, 1.0, 2)
    with pytest.warns(AudioNotice, match=r"stereo\.wav: 2 channels; channel 0 is used"):
        y, _ = read_audio(path)
    np.testing.assert_allclose(y, left, atol=1e-4)


def test_other_rate_is_resampled_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "r8k.wav"
    sf.write(path, _sine(freq=1000.0), RATE, subtype="PCM_16")
    with pytest.warns(AudioNotice, match=r"r8k\.wav: resampled from 8000 Hz to 16000 Hz"):
        y, rate = read_audio(path, sample_rate=16000)
    assert rate == 16000 and y.dtype == np.float32 and len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 16000 / len(y) == pytest.approx(1000.0, abs=2.0)  # the tone keeps its frequency
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)  # the file's own rate: nothing to say
        _, same = read_audio(path, sample_rate=RATE)
    assert same == RATE


def test_bad_sample_rate_parameter(tmp_path: Path) -> None:
    path = tmp_path / "ok.wav"
    sf.write(path, _sine(), RATE)
    for bad in (0, -8000, 8000.5, True):
        with pytest.raises(ConfigError, match="sample_rate must be a positive integer"):
            read_audio(path, sample_rate=bad)


def test_real_deepship_sample() -> None:
    path = SAMPLE / "Passengership" / "30.wav"
    assert audio_info(path) == (32000, 6.0, 1)
    y, rate = read_audio(path)
    assert rate == 32000 and y.shape == (192000,) and y.dtype == np.float32
    assert np.isfinite(y).all() and 1e-3 < float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) < 1.0


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    for call in (audio_info, read_audio):
        with pytest.raises(DataError, match=r"notes\.wav: not a readable audio file"):
            call(path)


def test_header_without_data_chunk(tmp_path: Path) -> None:
    src = tmp_path / "full.wav"
    sf.write(src, _sine(), RATE, subtype="PCM_16")
    path = tmp_path / "header_only.wav"
    path.write_bytes(src.read_bytes()[:30])
    with pytest.raises(DataError, match=r"header_only\.wav: not a readable audio file"):
        audio_info(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"absent\.wav: no such audio file"):
        audio_info(tmp_path / "absent.wav")


def test_truncated_real_wav(tmp_path: Path) -> None:
    data = (SAMPLE / "Tanker" / "50.wav").read_bytes()  # 10 s of 32 kHz float: 320000 frames
    path = tmp_path / "50.wav"
    path.write_bytes(data[: len(data) // 3])
    for call in (audio_info, read_audio):
        with pytest.raises(DataError, match=r"50\.wav: truncated WAV: the header promises 320000 frames"):
            call(path)


def test_truncated_by_less_than_one_frame_is_not_an_error(tmp_path: Path) -> None:
    src = tmp_path / "src.wav"
    sf.write(src, _sine(), RATE, subtype="PCM_16")
    path = tmp_path / "one_byte_short.wav"
    path.write_bytes(src.read_bytes()[:-1])  # the last 2-byte frame loses a byte: libsndfile drops that frame
    _, duration, _ = audio_info(path)
    assert duration == pytest.approx((RATE - 1) / RATE)


def test_chunk_after_the_data_is_not_truncation(tmp_path: Path) -> None:
    path = tmp_path / "with_list.wav"
    sf.write(path, _sine(), RATE, subtype="PCM_16")
    body = b"INFOICMT" + struct.pack("<I", 6) + b"hello\x00"
    data = bytearray(path.read_bytes() + b"LIST" + struct.pack("<I", len(body)) + body)
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))
    assert audio_info(path) == (RATE, 1.0, 1)
    y, _ = read_audio(path)
    assert len(y) == RATE


def test_empty_wav(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=r"empty\.wav: the audio file holds no samples"):
        audio_info(path)


@pytest.mark.parametrize(("value", "message"), [(np.nan, r"1 NaN and 0 infinite"), (np.inf, r"0 NaN and 1 infinite")])
def test_non_finite_samples(tmp_path: Path, value: float, message: str) -> None:
    x = _sine()
    x[100] = value
    path = tmp_path / "bad_values.wav"
    sf.write(path, x, RATE, subtype="FLOAT")
    with pytest.raises(DataError, match=rf"bad_values\.wav: {message} samples"):
        read_audio(path)


def test_silent_recordings(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.wav"
    sf.write(zeros, np.zeros(RATE), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=r"zeros\.wav: silent recording \(every sample is zero"):
        read_audio(zeros)
    faint = tmp_path / "faint.wav"
    sf.write(faint, _sine(amp=1e-11), RATE, subtype="FLOAT")
    with pytest.raises(DataError, match=r"faint\.wav: silent recording \(RMS 7.\d+e-12 of full scale"):
        read_audio(faint)
    quiet = tmp_path / "quiet.wav"  # quiet, but above 1e-9 of full scale: kept
    sf.write(quiet, _sine(amp=1e-6), RATE, subtype="FLOAT")
    assert read_audio(quiet)[0].shape == (RATE,)


def test_clipping_notice(tmp_path: Path) -> None:
    x = np.round(_sine(amp=0.3) * 32767).astype(np.int16)
    x[:80] = 32767  # 1 % of the samples at full scale
    x[80:100] = -32768
    path = tmp_path / "clipped.wav"
    sf.write(path, x, RATE, subtype="PCM_16")
    with pytest.warns(AudioNotice, match=r"clipped\.wav: 1\.25 % of the samples are clipped"):
        read_audio(path)
    x[8:100] = 0  # 8 samples = 0.1 %: not more than 0.1 %, no notice
    sf.write(path, x, RATE, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)
        read_audio(path)


def test_clipping_of_8_bit_files(tmp_path: Path) -> None:
    x = _sine(amp=0.3)
    x[:40] = 1.0  # written as code 127 = 0.992: full scale of an 8-bit file
    path = tmp_path / "u8.wav"
    sf.write(path, x, RATE, subtype="PCM_U8")
    with pytest.warns(AudioNotice, match=r"u8\.wav: 0\.50 % of the samples are clipped"):
        read_audio(path)
