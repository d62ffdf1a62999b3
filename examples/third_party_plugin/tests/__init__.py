"""Tests of the sciconv-ecg plugin.

A package, so that pytest (in its default ``prepend`` import mode) puts the distribution's root on
``sys.path`` and ``sciconv_ecg`` imports from a source checkout without installing it, and so that
these modules do not clash with same-named test modules elsewhere.
"""
