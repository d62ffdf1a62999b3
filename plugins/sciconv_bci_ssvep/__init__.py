"""sciconv's SSVEP speller plugin: the DNN of Guney, Oblokulov and Ozkan (IEEE TBME 2021).

Readers for the Tsinghua Benchmark and BETA `.mat` layouts and for MNE-readable recordings with events,
a simulator that writes the Benchmark layout, the sub-band DNN with its two-stage training, FBCCA and
ensemble TRCA baselines, and leave-one-block-out evaluation with accuracy and ITR. The hook module
(:mod:`sciconv_bci_ssvep.plugin`) is import-light.
"""
