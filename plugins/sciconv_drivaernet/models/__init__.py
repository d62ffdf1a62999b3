"""The drivaernet plugin's networks: RegDGCNN, RegPointNet and the chunked kNN graph, one module each."""
