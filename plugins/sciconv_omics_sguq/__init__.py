"""sciconv's multi-omics plugin: SGUQ, staged graph convolutional networks with uncertainty quantification for
Alzheimer's disease diagnosis from multi-omics data, built on MOGONET.

Readers and writers of MOGONET's preprocessed CSV layout (ROSMAP, BRCA) and of ``.h5mu``/``.h5ad`` files, all
giving one :class:`mudata.MuData` form in which a modality that was not measured for a sample is simply absent
from that modality (:mod:`sciconv_omics_sguq.mogonet_io`), and a biologically grounded simulator of multi-omics
cohorts that writes the same layout (:mod:`sciconv_omics_sguq.cohort_simulator`).
"""
