"""sciconv-ecg: an example third-party sciconv plugin.

Detects premature ventricular contractions (PVCs) in single-lead ECG beats simulated with the
dynamical model of McSharry et al. (2003), with a small 1D CNN beside a classical QRS-width
threshold. Its hook module, :mod:`sciconv_ecg.plugin`, is import-light; importing this package
imports nothing heavy either.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sciconv-ecg")
except PackageNotFoundError:  # used from a source tree that was not installed
    __version__ = "0.0.0+unknown"
