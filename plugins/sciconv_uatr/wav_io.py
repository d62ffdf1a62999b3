"""Reading underwater recordings: mono float32 samples at a chosen rate, with the checks a dataset reader needs.

:func:`audio_info` reads only the header (sample rate, duration, channels); :func:`read_audio` reads the samples.
Both use soundfile (libsndfile), so 8-bit (unsigned), 16-, 24- and 32-bit integer and 32- or 64-bit float WAVs
are read, as are the other formats libsndfile recognises by their content (FLAC, AIFF, ...).

Integer PCM is scaled to [-1, 1) (a sample divided by 2**(bits - 1)); float files are returned as stored (values
beyond +-1 are kept). What is an error (:class:`~sciconv.errors.DataError`, naming the file) and what is noticed
(:class:`~sciconv_uatr.recordings.AudioNotice`, naming the file):

- a file that is not audio (a text file named ``.wav``, a header without a data chunk): error;
- a truncated WAV, whose ``data`` chunk promises more frames than the file holds (an interrupted copy or
  download; libsndfile itself silently reads what is there): error, with the frames promised and present;
- a file without samples: error;
- NaN or infinite samples (float files): error;
- a silent recording (every sample zero, or an RMS below 1e-9 of full scale): error;
- more than 0.1 % of the samples at or beyond 0.999 of integer full scale (integer PCM only; full scale is the
  largest positive code, ``1 - 2**(1 - bits)``): notice with the fraction (the recording is kept);
- two or more channels: channel 0 is used, with a notice;
- a rate other than the one asked for: resampled (``librosa.resample``, soxr high quality), with a notice
  naming both rates.

The checks on the samples (finite, silence, clipping) look at the channel that is returned, before resampling.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from sciconv.errors import ConfigError, DataError
from sciconv_uatr.recordings import AudioNotice

__all__ = ["audio_info", "read_audio"]

#: bits of the integer PCM subtypes whose full scale the clipping check knows
_INTEGER_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
#: bits per sample of the uncompressed subtypes (for the truncation check)
_SAMPLE_BITS = {**_INTEGER_BITS, "FLOAT": 32, "DOUBLE": 64, "ULAW": 8, "ALAW": 8}
_CLIP_LEVEL = 0.999  # of integer full scale
_CLIP_FRACTION = 1e-3  # more than this fraction of clipped samples gives a notice
_SILENCE_RMS = 1e-9  # of full scale
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # data sizes that streaming writers leave in the header (length unknown)


def _wav_data_size(path: Path) -> tuple[int, int] | None:
    """The ``data`` chunk of a RIFF / RIFX / RF64 file: ``(bytes promised by the header, bytes present)``.

    ``None`` for another format, a header that does not state the size (a streaming writer's 0 or 0xFFFFFFFF),
    or a chunk list that cannot be walked (libsndfile judges those)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX", b"RF64"):
            return None
        endian = ">" if head[:4] == b"RIFX" else "<"
        ds64_data_size: int | None = None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            chunk_id = chunk[:4]
            (chunk_size,) = struct.unpack(endian + "I", chunk[4:])
            if chunk_id == b"ds64" and chunk_size >= 16:
                # RF64: riff size (8 bytes), data size (8 bytes), ...
                body = f.read(16)
                if len(body) == 16:
                    ds64_data_size = struct.unpack("<Q", body[8:16])[0]
            if chunk_id == b"data":
                promised = chunk_size
                if head[:4] == b"RF64" and chunk_size == 0xFFFFFFFF and ds64_data_size is not None:
                    promised = ds64_data_size
                elif chunk_size in _UNKNOWN_SIZES:
                    return None
                return promised, size - (pos + 8)
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _open_info(path: Path) -> sf._SoundFileInfo:
    """soundfile's header of ``path``, with the WAV truncation check; DataError when it is not readable audio."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(f"{path}: not a readable audio file (expected a WAV): {exc}") from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise DataError(f"{path}: header states {info.samplerate} Hz and {info.channels} channels")
    try:
        data = _wav_data_size(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the audio file: {exc}") from exc
    if data is not None:
        promised, present = data
        frame_bytes = _frame_bytes(info)
        if frame_bytes and present < promised and (promised - present) >= frame_bytes:
            raise DataError(
                f"{path}: truncated WAV: the header promises {promised // frame_bytes} frames "
                f"({promised} bytes of data) but the file holds {present // frame_bytes} ({present} bytes)"
            )
    if info.frames <= 0:
        raise DataError(f"{path}: the audio file holds no samples")
    return info


def _frame_bytes(info: sf._SoundFileInfo) -> int:
    """Bytes per frame of an uncompressed subtype (0 for a compressed or unknown one)."""
    b = _SAMPLE_BITS.get(info.subtype)
    return 0 if b is None else b // 8 * info.channels


def audio_info(path: Path) -> tuple[int, float, int]:
    """Header facts of an audio file, without reading its samples.

    Args:
        path: the audio file (WAV or another format libsndfile recognises).

    Returns:
        ``(sample_rate, duration_s, channels)``: the rate in Hz, the length in seconds (frames / rate) and the
        number of channels.

    Raises:
        DataError: the file is missing, not audio, a truncated WAV, or holds no samples.
    """
    info = _open_info(Path(path))
    return int(info.samplerate), info.frames / info.samplerate, int(info.channels)


def read_audio(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 samples (integer PCM scaled to [-1, 1); float files as stored) at ``sample_rate`` (the file's
    own when None) and that rate.

    Args:
        path: the audio file.
        sample_rate: the rate in Hz to return the samples at; the file is resampled (with an AudioNotice) when
            its own rate differs. ``None`` keeps the file's rate.

    Returns:
        ``(samples, rate)``: samples of shape ``(n_samples,)``, float32, channel 0 of the file; ``rate`` in Hz.

    Raises:
        ConfigError: ``sample_rate`` is not a positive integer.
        DataError: the file is missing, not audio, truncated, holds NaN / infinite samples or is silent.
    """
    path = Path(path)
    if sample_rate is not None and (
        isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0
    ):
        raise ConfigError(f"sample_rate must be a positive integer (Hz) or None, got {sample_rate!r}")
    info = _open_info(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(f"{path}: the audio data cannot be read: {exc}") from exc
    if data.shape[0] < info.frames:
        raise DataError(f"{path}: truncated audio: the header promises {info.frames} frames, {data.shape[0]} read")
    if data.shape[1] > 1:
        warnings.warn(f"{path}: {data.shape[1]} channels; channel 0 is used", AudioNotice, stacklevel=2)
    x = np.ascontiguousarray(data[:, 0])
    del data
    _check_samples(path, x, info.subtype)
    if sample_rate is not None and int(sample_rate) != rate:
        warnings.warn(f"{path}: resampled from {rate} Hz to {int(sample_rate)} Hz", AudioNotice, stacklevel=2)
        x = _resample(x, rate, int(sample_rate))
        rate = int(sample_rate)
    return x, int(rate)


def _check_samples(path: Path, x: np.ndarray, subtype: str) -> None:
    """DataError for non-finite or silent samples; AudioNotice for clipping (integer PCM)."""
    finite = np.isfinite(x)
    if not finite.all():
        n_nan = int(np.isnan(x).sum())
        n_inf = int(x.size - finite.sum()) - n_nan
        raise DataError(f"{path}: {n_nan} NaN and {n_inf} infinite samples (of {x.size})")
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms < _SILENCE_RMS:
        what = "every sample is zero" if not np.any(x) else f"RMS {rms:.3g} of full scale"
        raise DataError(f"{path}: silent recording ({what}; below {_SILENCE_RMS:g} of full scale)")
    bits = _INTEGER_BITS.get(subtype)
    if bits is not None:
        level = _CLIP_LEVEL * (1.0 - 2.0 ** (1 - bits))
        fraction = float(np.count_nonzero(np.abs(x) >= level)) / x.size
        if fraction > _CLIP_FRACTION:
            warnings.warn(
                f"{path}: {100 * fraction:.2f} % of the samples are clipped (at >= {_CLIP_LEVEL:g} of full scale)",
                AudioNotice,
                stacklevel=3,
            )


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``x`` resampled from ``rate_in`` to ``rate_out`` Hz (float32, shape ``(round(n * rate_out / rate_in),)``)."""
    import librosa  # deferred: librosa's import is slow and only resampling needs it

    return np.ascontiguousarray(librosa.resample(x, orig_sr=rate_in, target_sr=rate_out), dtype=np.float32)
