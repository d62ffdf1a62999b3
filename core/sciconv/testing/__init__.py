"""Tools for plugin authors' test suites.

* :func:`registered_plugin`: register an in-process plugin (a class or module with ``@hookimpl``
  functions) for the duration of a ``with`` block; the pytest fixture ``register_plugin`` in
  :mod:`sciconv.testing.fixtures` does the same until the test ends.
* The conformance kit, in the spirit of scikit-learn's ``check_estimator``: :func:`check_dataset`,
  :func:`check_model`, :func:`check_task`, :func:`check_pipeline_file`, :func:`check_pipeline_runs` (a
  pipeline run twice end to end, same metrics) and :func:`check_plugin`, which runs them over every
  component and pipeline a plugin contributes::

      from sciconv.testing import check_plugin

      def test_conformance():
          check_plugin("myplugin", pipeline_overrides={"my-pipeline": {"dataset.params.n_subjects": 2}})

A failed check raises :class:`ConformanceError` (an ``AssertionError``) saying what is wrong.
"""

from sciconv.registry import extra_plugin as registered_plugin
from sciconv.testing.conformance import (
    ConformanceError,
    ConformanceReport,
    check_dataset,
    check_model,
    check_pipeline_file,
    check_pipeline_runs,
    check_plugin,
    check_prediction,
    check_task,
)

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "check_dataset",
    "check_model",
    "check_pipeline_file",
    "check_pipeline_runs",
    "check_plugin",
    "check_prediction",
    "check_task",
    "registered_plugin",
]
