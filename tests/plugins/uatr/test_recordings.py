"""Segmenting a recording: whole segments every hop, and a recording shorter than one segment skipped with a notice
naming it."""

from __future__ import annotations

import numpy as np
import pytest

from sciconv_uatr.recordings import AudioNotice, cut_segments, segment_starts


def test_segments_are_whole_and_hop_apart() -> None:
    signal = np.arange(100, dtype=np.float32)
    segments = cut_segments(signal, 10, segment_s=3.0, hop_s=1.5)
    assert segments.shape == (5, 30)  # starts 0, 15, 30, 45, 60; 75 would run past the end
    np.testing.assert_array_equal(segments[:, 0], [0, 15, 30, 45, 60])
    np.testing.assert_array_equal(segments[1], signal[15:45])
    assert segment_starts(30, 30, 7).tolist() == [0]


def test_a_recording_shorter_than_one_segment_is_skipped_with_a_notice() -> None:
    with pytest.warns(AudioNotice, match=r"short\.wav: 2\.00 s is shorter than one 3 s segment; skipped"):
        segments = cut_segments(np.zeros(20, np.float32), 10, 3.0, 1.0, name="short.wav")
    assert segments.shape == (0, 30)


def test_bad_segment_settings_raise() -> None:
    with pytest.raises(ValueError, match="segment and hop"):
        segment_starts(100, 0, 1)
