"""DeepFEA: ConvLSTM surrogates of transient finite element simulations (Triantafyllou et al., ESWA 2025)."""
