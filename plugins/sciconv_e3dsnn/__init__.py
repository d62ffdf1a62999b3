"""E-3DSNN plugin: spiking sparse 3D convolution for point clouds."""
