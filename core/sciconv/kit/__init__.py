"""The plugin kit: the mechanics every domain plugin needs, written once.

A plugin holds its field's knowledge (readers and writers of the field's formats, the simulator, the
models, the protocol); everything below is shared, so that every plugin caches, splits, checks paths,
aggregates, tabulates and plots the same way:

- :func:`cached_simulation`: simulate once into a cache keyed by the parameters, written atomically,
  reused (and said so) by later runs;
- :func:`cached_arrays`: derived arrays (features) computed once into a cache keyed by the parameters and
  the input files' :func:`file_fingerprints`, reused by later runs;
- :func:`random_split`, :func:`stratified_split`, :func:`grouped_split`, :func:`split_sizes`: seeded splits
  with one rounding rule, grouped ones keeping every subject / recording / patient in one split;
- :func:`require_root`, :func:`require_file`: ``dataset.params.root`` checks with one message format;
- :func:`atomic_directory`, :func:`atomic_path`, :func:`atomic_write_text`: whole folders and files
  that appear complete or not at all; :func:`file_sha256` for the manifests that verify them;
- :func:`derive_seed`, :func:`seeded`, :func:`torch_threads`: named seeds and scoped RNG / thread state;
- :func:`summarize` (mean ± SE or SD, named as such), :func:`markdown_table`, :func:`new_figure` and
  :func:`save_figure` for reports, and :class:`Published` for the published numbers a plugin quotes from
  its ``published.py``; :func:`accuracy` for classification;
- :func:`power_law_noise` and :func:`coloured_noise`: 1/f and spectrally shaped background noise.
- :func:`lazy_exports`: a package's names imported from their submodules on first access (a plugin's
  ``models`` package).
- :func:`shown_items`: the first few of many items, and how many in all, for readers' error messages.
- :func:`check_model_output`: a network of the user's own run once on an example batch before training, refused
  with one line saying what the task needs when it fails or gives the wrong shape.

Importing the kit does not import torch.
"""

from __future__ import annotations

from sciconv.atomic import atomic_directory, atomic_path, atomic_write_bytes, atomic_write_text, file_sha256
from sciconv.kit.aggregate import Summary, summarize
from sciconv.kit.feature_cache import cached_arrays, default_feature_cache_dir, file_fingerprints
from sciconv.kit.figures import new_figure, save_figure
from sciconv.kit.lazy_exports import lazy_exports
from sciconv.kit.messages import shown_items
from sciconv.kit.metrics import accuracy
from sciconv.kit.model_check import check_model_output
from sciconv.kit.noise import coloured_noise, power_law_noise
from sciconv.kit.paths import require_file, require_root
from sciconv.kit.published import Published
from sciconv.kit.simulation_cache import cached_simulation, default_cache_dir, parameter_key
from sciconv.kit.splits import check_disjoint, grouped_split, random_split, split_size, split_sizes, stratified_split
from sciconv.kit.tables import markdown_table
from sciconv.report import format_number
from sciconv.seeding import derive_seed, seed_everything, seeded, torch_threads

__all__ = [
    "Published",
    "Summary",
    "accuracy",
    "atomic_directory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "cached_arrays",
    "cached_simulation",
    "check_disjoint",
    "check_model_output",
    "coloured_noise",
    "default_cache_dir",
    "default_feature_cache_dir",
    "derive_seed",
    "file_fingerprints",
    "file_sha256",
    "format_number",
    "grouped_split",
    "lazy_exports",
    "markdown_table",
    "new_figure",
    "parameter_key",
    "power_law_noise",
    "random_split",
    "require_file",
    "require_root",
    "save_figure",
    "seed_everything",
    "seeded",
    "shown_items",
    "split_size",
    "split_sizes",
    "stratified_split",
    "summarize",
    "torch_threads",
]
