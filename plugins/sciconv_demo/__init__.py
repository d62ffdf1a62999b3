"""sciconv's demo plugin: oscillation classification with a 1D CNN.

It exercises the whole path (dataset -> DataSpec -> model -> engine -> report) in well under a minute
and is what the quick start runs. Its hook module (:mod:`sciconv_demo.plugin`) is import-light.
"""
