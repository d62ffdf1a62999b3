"""Pipeline files of the ECG plugin, shipped as package data (read with ``importlib.resources``)."""
