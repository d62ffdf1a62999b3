"""Underwater acoustic target recognition with a convolution-based mixture of experts (CMoE; Xie, Ren and Xu,
Expert Systems with Applications 2024, arXiv 2402.11919): ship-radiated noise in the DeepShip and ShipsEar
layouts, a ship-noise simulator, spectrogram front-ends, ResNet-18 with CMoE / RCMoE heads and the field's
baselines."""
