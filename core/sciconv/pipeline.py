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
    flatten_config,
    load_config_file,
    override_sources,
    validate_config,
)
from sciconv.errors import ConfigError, NotFoundError, SciconvError
from sciconv.params import check_params
from sciconv.provenance import describe_component, is_python_reference, load_reference
from sciconv.registry import Registry, get_registry
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


# Settings a resumed run may change: they decide how long it trains, where and how it writes, and how many
# processes it uses, but not what it learns from or how; each change is recorded with the epoch it took effect.
RESUMABLE = (
    "train.epochs",
    "train.early_stopping.patience",
    "train.progress",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "parallel.",
    "output.",
)


class Pipeline:
    """A resolved, validated pipeline, ready to run and open to change.

    Change the configuration through :attr:`config` (``pipe.config.train.epochs = 3``; every assignment,
    component parameters included, is checked at once and refused with the same one-line message as a bad
    override) or :meth:`override`. To use your own component without registering it, set :attr:`dataset`
    (an object with ``load()``), :attr:`model` (a ``factory(spec, **params)``, given ``model.params``) or
    :attr:`task` (an object with ``run(ctx)``). The saved ``config.yaml`` records such an object by its class
    (``python:<module>:<name>``) and its actual parameters (read back from its attributes), and says when
    ``pipeline run config.yaml`` cannot repeat the run (a class defined in the script itself, parameters that
    cannot be read back).
    """

    def __init__(self, config: PipelineConfig, source: Path | None = None) -> None:
        self._config = config
        self.source = source
        self._objects: dict[str, Any] = {"dataset": None, "model": None, "task": None}
        config.watch(self._check_assignment)

    # -- configuration ---------------------------------------------------------------------------

    @property
    def config(self) -> PipelineConfig:
        """The pipeline's configuration; assignments to any part of it are validated at once."""
        return self._config

    @config.setter
    def config(self, config: PipelineConfig) -> None:
        if not isinstance(config, PipelineConfig):
            raise ConfigError(f"pipe.config: expected a sciconv.PipelineConfig, got {type(config).__name__}")
        self._config.watch(None)
        self._config = config
        config.watch(self._check_assignment)

    def override(self, overrides: Overrides) -> Pipeline:
        """Apply dotted overrides (``{"train.lr": 3e-4}`` or ``["train.lr=3e-4"]``), in place."""
        if not isinstance(overrides, Mapping):
            overrides = list(overrides)
        data = apply_overrides(self.config.to_dict(), overrides)
        self.config = validate_config(data, str(self.source or self.config.name), override_sources(overrides))
        return self

    def _check_assignment(self, dotted: str, value: Any) -> None:
        """Check an assignment in :attr:`config` that names or parameterises a component (the rest of the
        schema is checked by pydantic), before it is made."""
        kind, _, key = dotted.partition(".")
        if kind not in ("dataset", "model", "task") or key not in ("", "name", "params"):
            return
        section = getattr(self.config, kind)
        if key == "":
            data = value.model_dump() if hasattr(value, "model_dump") else value
            if not isinstance(data, Mapping):
                return  # pydantic refuses it with its own message
            name, params = data.get("name", section.name), data.get("params", {})
        elif key == "name":
            name, params = value, None
        else:
            name, params = section.name, value
        where = f"pipe.config.{dotted} = {value!r}"
        if not isinstance(name, str) or (params is not None and not isinstance(params, Mapping)):
            return
        obj = self._objects[kind]
        if obj is not None and kind != "model":
            if params is not None and dict(params) != dict(section.params):
                raise ConfigError(
                    f"{where}: the {kind} is the object given as pipe.{kind}, which {kind}.params do not reach; "
                    "set its parameters on that object"
                )
            return
        if obj is not None:
            factory, name = obj, getattr(obj, "__qualname__", type(obj).__name__)
        else:
            try:
                factory, name = self._load_component(kind, name)
            except SciconvError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        if params is not None:
            try:
                check_params(kind, name, factory, params)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None

    # -- components ----------------------------------------------------------------------------

    @property
    def dataset(self) -> Any:
        """Your own dataset object (with ``load()``) instead of the configured one, or ``None``."""
        return self._objects["dataset"]

    @dataset.setter
    def dataset(self, obj: Any) -> None:
        self._set_object("dataset", obj, "load", "an object with a load() method returning a sciconv.DataBundle")

    @property
    def model(self) -> Callable[..., Any] | None:
        """Your own model factory (``factory(spec, **model.params)`` -> ``nn.Module``), or ``None``."""
        return self._objects["model"]

    @model.setter
    def model(self, obj: Callable[..., Any] | None) -> None:
        if obj is not None and not callable(obj):
            raise ConfigError(
                f"pipe.model: expected a model factory, factory(spec, **params) -> torch.nn.Module, "
                f"got a {type(obj).__name__}"
            )
        self._objects["model"] = obj

    @property
    def task(self) -> Any:
        """Your own task object (with ``run(ctx)``) instead of the configured one, or ``None``."""
        return self._objects["task"]

    @task.setter
    def task(self, obj: Any) -> None:
        self._set_object("task", obj, "run", "an object with a run(ctx) method returning a sciconv.TaskResult")

    def _set_object(self, kind: str, obj: Any, method: str, expected: str) -> None:
        if obj is not None and (inspect.isclass(obj) or not callable(getattr(obj, method, None))):
            what = f"the class {obj.__qualname__} (pass an instance)" if inspect.isclass(obj) else type(obj).__name__
            raise ConfigError(f"pipe.{kind}: expected {expected}, got {what}")
        self._objects[kind] = obj

    def _load_component(self, kind: str, name: str) -> tuple[Any, str]:
        """The factory of a registered (or ``python:``) component name, and its name."""
        if is_python_reference(name):
            factory = load_reference(kind, name)
        else:
            try:
                factory = get_registry().load(kind + "s", name)
            except NotFoundError as exc:
                raise NotFoundError(f"{kind}.name: {exc}") from None
        if not callable(factory):
            raise ConfigError(f"{kind} {name!r} is registered as a non-callable object")
        return factory, name

    def _resolve(self, kind: str) -> tuple[Callable[..., Any] | Any, str]:
        """The configured factory for a component kind, and its name."""
        section = getattr(self.config, kind)
        record = self.config.record
        if record is not None and kind in record.not_repeatable:
            source = self.source or self.config.name
            raise ConfigError(
                f"{source}: this configuration records a scripted run whose {kind} cannot be built from it: "
                f"{section.name} ({record.not_repeatable[kind]}); repeat it from Python: "
                f"pipe = sciconv.load_pipeline(...), then pipe.{kind} = <the same object>, then pipe.run()"
            )
        return self._load_component(kind, section.name)

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
        if self.model is not None:
            check_params("model", getattr(self.model, "__qualname__", "model"), self.model, self.config.model.params)
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
        """The configuration as saved with the run: components given as objects recorded by their class and
        actual parameters (:func:`sciconv.provenance.describe_component`), with a ``record.not_repeatable``
        entry for each that ``pipeline run config.yaml`` could not build again; components named by a
        deprecated alias recorded under their current name."""
        data = self.config.to_dict()
        data.pop("record", None)  # the runner writes the run's own record
        registry = get_registry()
        not_repeatable: dict[str, str] = {}
        for kind in ("dataset", "model", "task"):
            obj = getattr(self, kind)
            if obj is not None:
                described = describe_component(kind, obj, self.config.model.params if kind == "model" else {})
                data[kind] = {"name": described.name, "params": described.params}
                if described.not_repeatable:
                    not_repeatable[kind] = described.not_repeatable
            elif not is_python_reference(data[kind]["name"]):
                data[kind]["name"] = registry.canonical_name(kind + "s", data[kind]["name"])
        data["conv"]["backend"] = registry.canonical_name("conv_backends", data["conv"]["backend"])
        if not_repeatable:
            data["record"] = {"not_repeatable": not_repeatable}
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
        ``status.json`` saying failed) so that ``--resume`` can continue it. A resumed run must be the run
        it continues: settings other than :data:`RESUMABLE` ones that differ from its ``config.yaml`` are
        refused; the resumable ones are applied and recorded with the epoch they took effect.
        """
        self.validate()
        changes: dict[str, tuple[Any, Any]] = {}
        if resume is not None:
            changes = resume_changes(resume, self.resolved_config())
        return execute(
            self.config,
            self._build,
            self.resolved_config,
            run_dir=run_dir,
            resume=resume,
            resume_changes=changes,
            log=log or _log_stderr,
        )


def resume_changes(run_dir: str | Path, config: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings in which ``config`` (a resolved configuration) differs from the run in ``run_dir``, as
    dotted key -> ``(before, after)``; a :class:`ConfigError` naming every change that a resumed run cannot
    make (see :data:`RESUMABLE`)."""
    from sciconv.rundir import RunDir

    rd = RunDir.existing(run_dir)
    saved = validate_config(rd.read_config(), str(rd.config_file)).to_dict()
    saved.pop("record", None)
    now = validate_config(dict(config), "the configuration").to_dict()
    now.pop("record", None)
    before, after = flatten_config(saved), flatten_config(now)
    changes = {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    refused = [key for key in changes if not key.startswith(RESUMABLE)]
    if refused:
        shown = ", ".join(f"{key}={changes[key][1]!r} (was {changes[key][0]!r})" for key in refused)
        raise ConfigError(
            f"--resume {run_dir}: a resumed run continues what it started, so it cannot change {shown}; "
            f"start a new run with these settings instead (pipeline run {rd.config_file} "
            f"{' '.join(f'{k}={_yaml_value(changes[k][1])}' for k in refused)}). On resume you may change only "
            "train.epochs, train.early_stopping.patience, train.progress, train.checkpoint_every, "
            "train.keep_checkpoints, parallel.* and output.*"
        )
    return changes


def _yaml_value(value: Any) -> str:
    """A value as an override's text, on one line (JSON is YAML: ``[0, 1]``, ``{"a": 1}``)."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def load_pipeline(target: str | Path, overrides: Overrides = (), check_values: bool = True) -> Pipeline:
    """A registered pipeline name, or a pipeline file, with overrides applied and validated (see
    :meth:`Pipeline.validate`; ``check_values=False`` skips the components' own value checks)."""
    path = resolve_pipeline_file(target)
    config = load_config_file(path, overrides)
    pipe = Pipeline(config, source=path)
    pipe.validate(check_values=check_values)
    return pipe


def load_run(run_dir: str | Path, overrides: Overrides = ()) -> Pipeline:
    """The pipeline saved in an earlier run directory (for resuming), with overrides applied; overrides that
    a resumed run cannot apply are refused here (see :func:`resume_changes`)."""
    from sciconv.rundir import RunDir

    if not isinstance(overrides, Mapping):
        overrides = list(overrides)
    rd = RunDir.existing(run_dir)
    data = rd.read_config()
    saved = validate_config(data, str(rd.config_file))
    for kind, why in (saved.record.not_repeatable if saved.record else {}).items():
        raise ConfigError(
            f"--resume {run_dir}: its {kind} was a Python object ({getattr(saved, kind).name}) that cannot be built "
            f"again from config.yaml ({why}); resume it from Python: pipe = sciconv.load_pipeline(...), "
            f"pipe.{kind} = <the same object>, pipe.run(resume={str(run_dir)!r})"
        )
    data = apply_overrides(data, overrides)
    config = validate_config(data, str(rd.config_file), override_sources(overrides))
    pipe = Pipeline(config, source=rd.config_file)
    pipe.validate()
    resume_changes(run_dir, pipe.resolved_config())
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
