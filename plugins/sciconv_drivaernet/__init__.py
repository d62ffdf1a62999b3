"""Aerodynamic drag prediction on the DrivAerNet and DrivAerNet++ car datasets (Elrefaie et al. 2024)."""
