"""Loading, validating and running pipelines.

``load_pipeline(name_or_file, overrides)`` gives a :class:`Pipeline` whose configuration (and, for
scripting, whose dataset / model / task objects) can be changed in code before :meth:`Pipeline.run`.
``run(...)`` does both in one call and returns a :class:`RunResult`.

:class:`RunResult` and ``environment()`` are defined in :mod:`sciconv.runner` (which this module runs and
which imports nothing of it) and stay importable from here.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sciconv.config import (
    PipelineConfig,
    apply_overrides,
    load_config_file,
    override_sources,
    validate_config,
)
from sciconv.errors import ConfigError, NotFoundError, SciconvError
from sciconv.params import check_params
from sciconv.registry import Registry, get_registry, singular
from sciconv.runner import Components, RunResult, environment, execute  # noqa: F401 - environment re-exported

Overrides = Mapping[str, Any] | Iterable[str]


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_pipeline_file(target: str | Path, registry: Registry | None = None) -> Path:
    """A registered pipeline name or a path to a pipeline file -> the file's path."""
    text = str(target)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file() or "/" in text:
        if not path.is_file():
            raise NotFoundError(f"pipeline file not found: {path}")
        return path
    registry = registry or get_registry()
    try:
        return registry.load("pipelines", text)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} (see `pipeline list`)") from None


# --- components -------------------------------------------------------------------------------


def _instantiate(kind: str, name: str, factory: Callable[..., Any], params: Mapping[str, Any]) -> Any:
    try:
        return factory(**params)
    except SciconvError:
        raise
    except TypeError as exc:
        raise ConfigError(f"{kind} {name!r}: cannot be built with {dict(params)}: {exc}") from None


# --- the pipeline object ------------------------------------------------------------------------


class Pipeline:
    """A resolved, validated pipeline, ready to run and open to change.

    Change the configuration through :attr:`config` (``pipe.config.train.epochs = 3``, validated on
    assignment) or :meth:`override`. To use your own component without registering it, set
    :attr:`dataset` (an object with ``load()``), :attr:`model` (a ``factory(spec, **params)``) or
    :attr:`task` (an object with ``run(ctx)``); the saved ``config.yaml`` then records it as
    ``python:<module>.<name>``.
    """

    def __init__(self, config: PipelineConfig, source: Path | None = None) -> None:
        self.config = config
        self.source = source
        self.dataset: Any = None
        self.model: Callable[..., Any] | None = None
        self.task: Any = None

    def override(self, overrides: Overrides) -> Pipeline:
        """Apply dotted overrides (``{"train.lr": 3e-4}`` or ``["train.lr=3e-4"]``), in place."""
        if not isinstance(overrides, Mapping):
            overrides = list(overrides)
        data = apply_overrides(self.config.to_dict(), overrides)
        self.config = validate_config(data, str(self.source or self.config.name), override_sources(overrides))
        return self

    # -- components ----------------------------------------------------------------------------

    def _resolve(self, kind: str) -> tuple[Callable[..., Any] | Any, str]:
        """The registered factory for a component kind, and its name."""
        section = getattr(self.config, kind)
        registry = get_registry()
        try:
            factory = registry.load(kind + "s", section.name)
        except NotFoundError as exc:
            raise NotFoundError(f"{kind}.name: {exc}") from None
        if not callable(factory):
            raise ConfigError(f"{singular(kind + 's')} {section.name!r} is registered as a non-callable object")
        return factory, section.name

    def validate(self, check_values: bool = True) -> None:
        """Resolve every component by name and check its parameters, without doing any work.

        Parameter names and types are checked against each component's signature; with
        ``check_values``, datasets and tasks (whose ``__init__`` only stores parameters) are then built
        and their ``validate()`` called, if they define one, to check the values (a required
        ``dataset.params.root``, ranges).
        """
        for kind in ("dataset", "model", "task"):
            if getattr(self, kind) is not None:
                continue
            factory, name = self._resolve(kind)
            params = check_params(kind, name, factory, getattr(self.config, kind).params)
            if kind != "model" and check_values:
                component = _instantiate(kind, name, factory, params)
                if callable(getattr(component, "validate", None)):
                    component.validate()
        try:
            get_registry().entry("conv_backends", self.config.conv.backend)
        except NotFoundError as exc:
            raise ConfigError(f"conv.backend: {exc}") from None

    def _build(self) -> Components:
        def instantiate(kind: str) -> Any:
            factory, name = self._resolve(kind)
            return _instantiate(
                kind, name, factory, check_params(kind, name, factory, getattr(self.config, kind).params)
            )

        dataset = self.dataset if self.dataset is not None else instantiate("dataset")
        task = self.task if self.task is not None else instantiate("task")
        if self.model is not None:
            model_factory, model_params = self.model, dict(self.config.model.params)
        else:
            factory, name = self._resolve("model")
            model_factory, model_params = (
                factory,
                check_params("model", name, factory, self.config.model.params),
            )
        return Components(dataset, model_factory, model_params, task)

    def resolved_config(self) -> dict[str, Any]:
        """The configuration as saved with the run (custom objects recorded as ``python:...``, components
        named by a deprecated alias recorded under their current name)."""
        data = self.config.to_dict()
        registry = get_registry()
        for kind in ("dataset", "model", "task"):
            obj = getattr(self, kind)
            if obj is not None:
                target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
                data[kind]["name"] = f"python:{target.__module__}.{target.__qualname__}"
            else:
                data[kind]["name"] = registry.canonical_name(kind + "s", data[kind]["name"])
        data["conv"]["backend"] = registry.canonical_name("conv_backends", data["conv"]["backend"])
        return data

    # -- running -------------------------------------------------------------------------------

    def run(
        self,
        run_dir: str | Path | None = None,
        *,
        resume: str | Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> RunResult:
        """Run the pipeline into a new run directory (or continue ``resume``'s) and return the result.

        The configuration and components are validated before any file is written. If the run fails
        before its first checkpoint, what it wrote is removed; after that the directory stays (with
        ``status.json`` saying failed) so that ``--resume`` can continue it.
        """
        self.validate()
        return execute(
            self.config, self._build, self.resolved_config, run_dir=run_dir, resume=resume, log=log or _log_stderr
        )


def load_pipeline(target: str | Path, overrides: Overrides = (), check_values: bool = True) -> Pipeline:
    """A registered pipeline name, or a pipeline file, with overrides applied and validated (see
    :meth:`Pipeline.validate`; ``check_values=False`` skips the components' own value checks)."""
    path = resolve_pipeline_file(target)
    config = load_config_file(path, overrides)
    pipe = Pipeline(config, source=path)
    pipe.validate(check_values=check_values)
    return pipe


def load_run(run_dir: str | Path, overrides: Overrides = ()) -> Pipeline:
    """The pipeline saved in an earlier run directory (for resuming), with overrides applied."""
    from sciconv.rundir import RunDir

    if not isinstance(overrides, Mapping):
        overrides = list(overrides)
    rd = RunDir.existing(run_dir)
    data = rd.read_config()
    for kind in ("dataset", "model", "task"):
        name = str(data.get(kind, {}).get("name", ""))
        if name.startswith("python:"):
            raise ConfigError(
                f"--resume {run_dir}: its {kind} was a Python object ({name}); resume it from Python with "
                "load_pipeline(...) and Pipeline.run(resume=...)"
            )
    data = apply_overrides(data, overrides)
    config = validate_config(data, str(rd.config_file), override_sources(overrides))
    pipe = Pipeline(config, source=rd.config_file)
    pipe.validate()
    return pipe


def run(
    target: str | Path | None = None,
    overrides: Overrides = (),
    *,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
) -> RunResult:
    """Run a pipeline by name or file (or continue the run in ``resume``) and return its result.

    ``result.metrics`` holds the final metrics (flat keys), ``result.run_dir`` the run directory and
    ``result.model`` the trained model.
    """
    if resume is not None:
        pipe = load_run(resume, overrides)
        if target is not None:
            wanted = load_pipeline(target).config.name if not isinstance(target, PipelineConfig) else target.name
            if wanted != pipe.config.name:
                raise ConfigError(f"--resume {resume}: that run is of pipeline {pipe.config.name!r}, not {wanted!r}")
        return pipe.run(resume=resume)
    if target is None:
        raise ConfigError("name a pipeline (or a pipeline file) to run")
    return load_pipeline(target, overrides).run(run_dir)
