"""Models of the ECG plugin, one per file."""

from sciconv_ecg.models.beat_cnn import BeatCNN

__all__ = ["BeatCNN"]
