"""The e3dsnn plugin's networks: the multi-spike neuron, E-3DSNN (and its ANN twin) on sciconv's sparse
convolutions, and the dense-voxel twin used to time the sparse path, one module each."""
