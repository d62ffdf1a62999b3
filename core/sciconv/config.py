"""The pipeline schema: what a pipeline file may say, validated before anything runs.

A pipeline file names a task, a dataset and a model (by registered name, with their parameters) and
sets training, convolution-backend, parallelism and output options::

    description: Synthetic oscillation classification with a 1D CNN
    task:    {name: demo.classify}
    dataset: {name: demo.oscillations, params: {n_samples: 1200}}
    model:   {name: demo.cnn1d, params: {n_filters: 16}}
    train:   {epochs: 8, batch_size: 64, lr: 0.001}

Unknown keys are rejected with a did-you-mean; command-line overrides ``key.sub=value`` are parsed as
YAML values and validated like the file. The component parameters (``*.params``) are checked
against the registered component's signature by :func:`sciconv.params.check_params`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from sciconv.errors import ConfigError, did_you_mean
from sciconv.yamlio import parse_yaml


class _Strict(BaseModel):
    """A schema object: unknown keys refused, assignments validated.

    An assignment in code (``pipe.config.train.lr = "fast"``) is refused with the same one-line
    :class:`ConfigError` as a bad override, naming the dotted key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    _path: str = PrivateAttr(default="")
    _on_assign: Callable[[str, Any], None] | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        dotted = f"{self._path}.{name}" if self._path else name
        if name not in type(self).model_fields:
            allowed = list(type(self).model_fields)
            raise ConfigError(f"pipe.config.{dotted} = {value!r}: unknown key {dotted!r}{did_you_mean(name, allowed)}")
        if self._on_assign is not None:
            self._on_assign(dotted, value)  # e.g. a component's params checked against its signature
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            err = dict(exc.errors()[0])
            err["loc"] = (*[p for p in self._path.split(".") if p], *err["loc"])
            raise ConfigError(_format_error(err, f"pipe.config.{dotted} = {value!r}", {})) from None
        _bind_paths(self, self._path, self._on_assign)


class ComponentConfig(_Strict):
    """A registered component and the keyword parameters it is built with."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class EarlyStoppingConfig(_Strict):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``patience: null`` turns early stopping off (training runs all epochs). With ``restore_best``,
    the model returned is the one of the best epoch.
    """

    patience: int | None = Field(default=None, ge=1)
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    min_delta: float = Field(default=0.0, ge=0.0)
    restore_best: bool = True


class SchedulerConfig(_Strict):
    """The learning-rate schedule, stepped once per epoch.

    ``constant`` keeps ``lr``. ``cosine`` decays it from ``lr`` to ``min_lr`` over the fit's epochs along a half
    cosine. ``warmup_cosine`` first rises linearly over ``warmup_epochs`` (epoch ``e`` of the warm-up, counted from
    1, at ``lr * e / warmup_epochs``), then decays along a half cosine to ``min_lr`` at the last epoch, as
    MONAI's and the Swin UNETR code's ``LinearWarmupCosineAnnealingLR`` (which starts the warm-up at 0 instead).
    ``multistep`` multiplies ``lr`` by ``gamma`` once the fit has completed each of ``milestones`` epochs, as
    torch's ``MultiStepLR`` stepped once per epoch (milestones [600, 700], gamma 0.7: epochs 601-700 at 0.7 lr).
    ``plateau`` multiplies the rate by ``gamma`` (below 1) whenever the validation loss has not improved for more
    than ``patience`` epochs, never below ``min_lr``: torch's ``ReduceLROnPlateau`` (mode min, its default relative
    threshold 1e-4) stepped with each epoch's ``val_loss``; a fit without a validation split cannot use it.
    """

    name: Literal["constant", "cosine", "warmup_cosine", "multistep", "plateau"] = "constant"
    warmup_epochs: int = Field(default=0, ge=0)
    min_lr: float = Field(default=0.0, ge=0.0)
    milestones: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    gamma: float = Field(default=0.1, gt=0.0)
    patience: int = Field(default=10, ge=0)


class TrainConfig(_Strict):
    """Options of the core training engine (tasks may read more from their own params)."""

    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0)
    nesterov: bool = False
    """Nesterov momentum for ``optimizer: sgd`` (torch's ``SGD(nesterov=True)``; needs ``momentum`` > 0)."""
    grad_clip: float | None = Field(default=None, gt=0.0)
    drop_last: bool = False
    """Leave out each epoch's last, incomplete training batch (as a DataLoader's ``drop_last``): networks whose
    batch normalisation sees one sample per channel cannot train on a batch of one."""
    seed: int = 0
    device: str = "auto"
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    find_unused_parameters: bool = False
    max_loss_growth: float | None = Field(default=1e4, gt=1.0)
    """Stop a fit as diverged when an epoch's mean training loss exceeds this multiple of the loss of the first
    batch, before any update (``null`` turns the check off). NaN or infinite losses and metrics always stop it."""
    checkpoint_every: int = Field(default=1, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    progress: bool = True

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda") and not value.startswith("cuda:"):
            raise ValueError("expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return value


class ConvConfig(_Strict):
    """Which registered convolution backend ``sciconv.conv`` layers use during the run."""

    backend: str = "torch"


class ParallelConfig(_Strict):
    """How a run uses several processes (besides ``pipeline run --nproc``, which sets the DDP ranks).

    ``n_jobs``: worker processes (joblib) for a task's independent jobs: subjects, folds, seeds, ensemble
    members; ``-1`` uses one per core. Under DDP the ranks share the jobs instead (no worker processes
    inside a rank). Each job is seeded from the run's seed and its own name, so results do not depend on
    ``n_jobs``.

    ``threads_per_job``: torch threads each job uses; ``null`` gives each job its share of the cores
    (``cores // n_jobs``, at least 1). CPU kernels may sum in a thread-count-dependent order, so results
    are bitwise identical for every ``n_jobs`` only when this is fixed (e.g. 1); otherwise they agree to
    float rounding.

    ``timeout_s``: how long a rank waits in a collective (all-reduce, gather) for the other ranks before
    the distributed run fails instead of hanging.
    """

    n_jobs: int = 1
    threads_per_job: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=900.0, gt=0.0)

    @field_validator("n_jobs")
    @classmethod
    def _check_n_jobs(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("expected a positive number of worker processes, or -1 for one per core")
        return value


class OutputConfig(_Strict):
    """Where runs are written: ``<root>/<pipeline>/<timestamp>/`` unless ``--run-dir`` is given, and the
    experiment trackers that follow them (see :mod:`sciconv.loggers`)."""

    root: str = "runs"
    plots: bool = True
    loggers: list[Literal["tensorboard", "mlflow"]] = Field(default_factory=list)
    """Experiment trackers fed with every epoch's history, the final metrics, the resolved configuration and the
    report's plots: ``tensorboard`` (event files in ``<run>/tensorboard/``) and ``mlflow`` (one MLflow run per
    sciconv run). Both need the optional extra ``pip install "sciconv[tracking]"``; a single name is accepted for
    a list of one."""
    tracking_uri: str | None = None
    """MLflow's tracking URI (``sqlite:///path/mlflow.db``, ``http://host:5000``, ...). ``null``: a SQLite store
    of the run's own, ``<run>/mlflow/mlflow.db``, its artifacts in ``<run>/mlflow/artifacts/`` (MLflow 3 refuses
    its older ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE`` is set, hence SQLite). Browse it with
    ``mlflow ui --backend-store-uri sqlite:///<run>/mlflow/mlflow.db``."""
    experiment: str | None = None
    """The MLflow experiment the run is logged to, created when missing; ``null``: the pipeline's name."""

    @field_validator("loggers", mode="before")
    @classmethod
    def _one_logger(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("loggers")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"each logger may be named once; {', '.join(map(repr, repeated))} is repeated")
        return value


class ResumeRecord(_Strict):
    """One ``--resume`` of a run: when it happened, the settings it changed (dotted key -> ``[before,
    after]``), and the epoch each checkpointed fit had reached, after which the changes took effect (fits
    not listed had no checkpoint then: they ran wholly under the new settings)."""

    resumed: str
    changes: dict[str, list[Any]] = Field(default_factory=dict)
    after_epoch: dict[str, int] = Field(default_factory=dict)


class RunRecord(_Strict):
    """What the runner writes into a run's ``config.yaml`` beside the settings; never a setting itself.

    ``not_repeatable`` gives, per component (``dataset``, ``model``, ``task``), why ``pipeline run
    config.yaml`` cannot repeat the run (a component that was a Python object defined in a script, or
    whose parameters could not be read back); ``resumes`` lists every ``--resume`` of the run.
    """

    not_repeatable: dict[str, str] = Field(default_factory=dict)
    resumes: list[ResumeRecord] = Field(default_factory=list)


class PipelineConfig(_Strict):
    """A whole pipeline, as read from its file and overrides."""

    name: str = ""
    description: str = ""
    task: ComponentConfig
    dataset: ComponentConfig
    model: ComponentConfig
    train: TrainConfig = Field(default_factory=TrainConfig)
    conv: ConvConfig = Field(default_factory=ConvConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    record: RunRecord | None = None
    """Written by the runner (see :class:`RunRecord`); a pipeline file does not set it."""

    def model_post_init(self, context: Any, /) -> None:
        _bind_paths(self, "", None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, in schema order, as saved in a run's ``config.yaml`` (without ``record`` when unset)."""
        return self.model_dump(mode="json", exclude_none=False, exclude={"record"} if self.record is None else None)

    def watch(self, on_assign: Callable[[str, Any], None] | None) -> None:
        """Call ``on_assign(dotted_key, value)`` before every assignment anywhere in this configuration
        (raising refuses it); :class:`sciconv.pipeline.Pipeline` checks component parameters this way."""
        _bind_paths(self, "", on_assign)


class WatchedParams(dict):  # type: ignore[type-arg]
    """A component's ``params``: a dict whose changes in place (``params["n_filters"] = 8``, ``update``, ``del``)
    are checked like an assignment of the whole mapping before they are made."""

    _key: str = ""
    _on_assign: Callable[[str, Any], None] | None = None

    def _check(self, new: dict[str, Any]) -> None:
        if self._on_assign is not None:
            self._on_assign(self._key, new)

    def __setitem__(self, key: str, value: Any) -> None:
        self._check({**self, key: value})
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._check({k: v for k, v in self.items() if k != key})
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        new = dict(self)
        new.update(*args, **kwargs)
        self._check(new)
        super().update(new)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        return super().pop(key, *default)

    def clear(self) -> None:
        self._check({})
        super().clear()

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles are plain dicts, watched by no one
        return (dict, (dict(self),))


def _bind_paths(model: BaseModel, path: str, on_assign: Callable[[str, Any], None] | None) -> None:
    """Give each nested schema object its dotted path (for error messages) and the assignment watcher, and
    wrap component ``params`` so that changes in place are watched too."""
    if isinstance(model, _Strict):
        private = {**(model.__pydantic_private__ or {}), "_path": path, "_on_assign": on_assign}
        object.__setattr__(model, "__pydantic_private__", private)
    if isinstance(model, ComponentConfig):
        params = WatchedParams(model.params)
        params._key, params._on_assign = f"{path}.params", on_assign
        model.__dict__["params"] = params
    for name in type(model).model_fields:
        child = getattr(model, name, None)
        if isinstance(child, BaseModel):
            _bind_paths(child, f"{path}.{name}" if path else name, on_assign)


# --- validation with readable errors ------------------------------------------------------------


def _fields_at(path: tuple[Any, ...]) -> list[str] | None:
    """The allowed keys of the schema object at ``path``, or None when free-form (``params``)."""
    model: type[BaseModel] = PipelineConfig
    for part in path:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return list(model.model_fields)


def _format_error(err: Mapping[str, Any], source: str, overridden: Mapping[str, str]) -> str:
    loc = tuple(err["loc"])
    dotted = ".".join(str(p) for p in loc)
    for key, text in overridden.items():
        if dotted == key or dotted.startswith(key + "."):
            source = f"override {text!r}"
            break
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1]) or []
        return f"{source}: unknown key {dotted!r}{did_you_mean(str(loc[-1]), allowed)}"
    if err["type"] == "missing":
        return f"{source}: missing required key {dotted!r}"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a mapping"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{source}: {dotted}: {msg[:1].lower()}{msg[1:]} (got {shown})"


def validate_config(data: Any, source: str, overridden: Mapping[str, str] | None = None) -> PipelineConfig:
    """Validate plain data against the schema; the first problem becomes a :class:`ConfigError`.

    ``overridden`` maps dotted keys set by overrides to the override's text, so that an error in an
    overridden value names the override instead of the file.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a pipeline must be a mapping of keys to values, got {type(data).__name__}")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        message = _format_error(errors[0], source, overridden or {})
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise ConfigError(message) from None


# --- overrides ----------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=3e-4"`` -> ``("train.lr", 0.0003)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r}: expected key.sub=value")
    parts = key.split(".")
    if any(not p for p in parts):
        raise ConfigError(f"override {text!r}: empty part in key {key!r}")
    return key, parse_yaml(raw, f"override {text!r}") if raw.strip() else None


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted overrides applied.

    ``overrides`` is either ``{"train.epochs": 2}`` (values used as given) or an iterable of
    ``"key.sub=value"`` strings (values parsed as YAML). Keys outside ``*.params`` must name schema
    keys; intermediate mappings are created as needed.
    """
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = [(str(k), v) for k, v in overrides.items()]
    else:
        items = [parse_override(o) for o in overrides]
    result = copy.deepcopy(dict(data))
    for key, value in items:
        parts = key.split(".")
        node: dict[str, Any] = result
        for depth, part in enumerate(parts):
            allowed = _fields_at(tuple(parts[:depth]))
            if allowed is not None and part not in allowed:
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"override {key!r}: unknown key {where!r}{did_you_mean(part, allowed)}")
            if depth == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                if not isinstance(child, dict):
                    raise ConfigError(f"override {key!r}: {'.'.join(parts[: depth + 1])!r} is not a mapping")
                node = child
    return result


def load_config_file(path: str | Path, overrides: Mapping[str, Any] | Iterable[str] = ()) -> PipelineConfig:
    """Read, override and validate a pipeline file (``name`` defaults to the file's stem)."""
    from sciconv.yamlio import read_yaml

    path = Path(path)
    if not isinstance(overrides, Mapping):
        overrides = list(overrides)  # used twice: to apply and to name them in errors
    data = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty; expected a pipeline mapping")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a pipeline must be a mapping of keys to values, got {type(data).__name__}")
    data = apply_overrides(data, overrides)
    data.setdefault("name", path.stem)
    return validate_config(data, str(path), override_sources(overrides))


def flatten_config(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys (``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``), the keys overrides
    use; an empty mapping stays a value of its own (``model.params: {}``)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def override_sources(overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, str]:
    """Dotted key -> the override's text, for error messages."""
    if isinstance(overrides, Mapping):
        return {str(k): f"{k}={v}" for k, v in overrides.items()}
    return {o.partition("=")[0].strip(): o for o in overrides}
