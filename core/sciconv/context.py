"""What a task sees of a run: :class:`RunContext`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sciconv.components import DataBundle
from sciconv.config import PipelineConfig
from sciconv.distributed import World, world
from sciconv.errors import DataError
from sciconv.parallel import Job, run_jobs
from sciconv.rundir import RunDir
from sciconv.spec import DataSpec
from sciconv.trained import TrainedState, TrainedWriter

if TYPE_CHECKING:
    import torch

    from sciconv.engine import Engine, FitResult

T = TypeVar("T")


@dataclass(frozen=True)
class Trainer:
    """Training settings that travel to any process: ``Trainer({"epochs": 50, "lr": 1e-3}).fit(model,
    train_data, val_data)`` trains with the core engine (the pipeline's ``train`` fields; unset ones keep
    their defaults), with no checkpoints. Get the run's own with :meth:`RunContext.trainer`.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)

    def fit(self, model: torch.nn.Module, train_data: Any, val_data: Any = None, **kwargs: Any) -> FitResult:
        """Train ``model`` (see :meth:`sciconv.engine.Engine.fit` for ``loss_fn``, ``metrics``, ``name``,
        ``collate_fn`` and per-fit overrides of the settings)."""
        from sciconv.config import TrainConfig
        from sciconv.engine import Engine

        return Engine(TrainConfig.model_validate(dict(self.settings)), checkpoint_root=None).fit(
            model, train_data, val_data, **kwargs
        )

    def predict(self, model: torch.nn.Module, data: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets of ``model`` on ``data`` (see :meth:`sciconv.engine.Engine.predict`)."""
        from sciconv.config import TrainConfig
        from sciconv.engine import Engine

        return Engine(TrainConfig.model_validate(dict(self.settings)), checkpoint_root=None).predict(
            model, data, **kwargs
        )


class RunContext:
    """The run as a task drives it.

    A task calls :meth:`load_data` for the dataset's splits and spec, :meth:`build_model` for a
    fresh model sized from a spec, and :meth:`fit` / :meth:`evaluate` / :meth:`predict` (the core
    engine) to train and test, then writes any extra figures into :attr:`plots_dir`.
    """

    def __init__(
        self,
        config: PipelineConfig,
        run_dir: RunDir,
        engine: Engine,
        dataset: Any,
        model_factory: Callable[..., Any],
        model_params: dict[str, Any],
        resume: bool,
        log: Callable[[str], None],
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.engine = engine
        self.resume = resume
        self._dataset = dataset
        self._model_factory = model_factory
        self._model_params = model_params
        self._data: DataBundle | None = None
        self._log = log
        self.summary: dict[str, Any] = {}
        self.trained = TrainedWriter(run_dir.path)

    @property
    def seed(self) -> int:
        """The run's seed (``train.seed``)."""
        return self.config.train.seed

    @property
    def device(self) -> torch.device:
        """Where the engine trains (CPU, or CUDA when present and asked for)."""
        return self.engine.device

    @property
    def plots_dir(self) -> Path:
        """Folder for the task's figures (created on first access)."""
        self.run_dir.plots_dir.mkdir(parents=True, exist_ok=True)
        return self.run_dir.plots_dir

    def log(self, message: str) -> None:
        """Print a progress message for the user (stderr)."""
        self._log(message)

    def load_data(self) -> DataBundle:
        """The dataset's :class:`DataBundle` (loaded once, then cached)."""
        if self._data is None:
            bundle = self._dataset.load()
            if not isinstance(bundle, DataBundle):
                raise DataError(
                    f"dataset {self.config.dataset.name!r}: load() returned {type(bundle).__name__}, "
                    "expected sciconv.DataBundle"
                )
            self._data = bundle
            self.summary["spec"] = bundle.spec.to_dict()
            self.summary["splits"] = {
                name: len(split) for name in ("train", "val", "test") if (split := getattr(bundle, name)) is not None
            }
        return self._data

    @property
    def model_factory(self) -> Callable[..., Any]:
        """The pipeline's model factory, ``factory(spec, **params)`` (picklable by reference, for tasks
        that build models in worker processes)."""
        self.summary["pipeline_model_used"] = True
        return self._model_factory

    @property
    def model_params(self) -> dict[str, Any]:
        """The pipeline's ``model.params``, checked against the factory's signature."""
        return dict(self._model_params)

    def build_model(self, spec: DataSpec | None = None, *, name: str | None = None, **params: Any) -> torch.nn.Module:
        """A new model sized from ``spec`` (default: the dataset's).

        Without ``name``: the pipeline's model component, with its ``model.params`` updated by ``params``.
        With ``name``: another registered model the task documents (e.g. a second network it trains
        beside the pipeline's, or a baseline), built with ``params`` alone, checked against its signature.
        """
        spec = spec or self.load_data().spec
        if name is None:
            self.summary["pipeline_model_used"] = True
            model = self._model_factory(spec, **{**self._model_params, **params})
        else:
            model = _build_named_model(name, spec, params)
        counts = self.summary.setdefault("n_parameters", [])
        count = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if count not in counts:
            counts.append(count)
        return model

    def model_factory_named(self, name: str) -> Callable[..., Any]:
        """The factory of the registered model ``name`` (picklable by reference, for worker processes)."""
        return _model_factory_named(name)

    def own_model_name(self) -> str | None:
        """The name of the pipeline's model when it is the user's own (see :func:`own_model_name`), else ``None``."""
        return own_model_name(self.config.model.name, self._model_factory)

    def trainer(self, **overrides: Any) -> Trainer:
        """The run's ``train`` settings with ``overrides`` (``epochs=200, lr=1e-3``), as a picklable
        :class:`Trainer` for fits in job workers, which have no run context. Its fits write no checkpoints."""
        self.summary["train_settings_used"] = True
        return Trainer({**self.config.train.model_dump(), **overrides})

    def fit(self, model: torch.nn.Module, train_data: Any, val_data: Any = None, **kwargs: Any) -> FitResult:
        """Train with the core engine (see :meth:`sciconv.engine.Engine.fit`)."""
        self.summary["train_settings_used"] = True
        result = self.engine.fit(model, train_data, val_data, **kwargs)
        restore_best = kwargs.get("early_stopping", self.config.train.early_stopping)
        restores = (
            getattr(restore_best, "restore_best", True)
            if not isinstance(restore_best, dict)
            else (restore_best.get("restore_best", True))
        )
        if restores and result.best_epoch is not None:
            self.summary.setdefault("kept_epochs", {})[kwargs.get("name", "model")] = result.best_epoch
        if result.resumed_from is not None:
            resumed = self.summary.setdefault("resumed", {})
            resumed[kwargs.get("name", "model")] = f"epoch {result.resumed_from}"
        return result

    def evaluate(self, model: torch.nn.Module, data: Any, **kwargs: Any) -> dict[str, float]:
        """Loss and metrics of ``model`` on ``data`` (see :meth:`sciconv.engine.Engine.evaluate`)."""
        return self.engine.evaluate(model, data, **kwargs)

    def predict(self, model: torch.nn.Module, data: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets of ``model`` on ``data`` (see :meth:`sciconv.engine.Engine.predict`)."""
        return self.engine.predict(model, data, **kwargs)

    # -- what predict needs ------------------------------------------------------------------------

    def save_weights(self, name: str, model: torch.nn.Module) -> None:
        """Keep a trained network's weights for ``predict`` (``trained/<name>.safetensors``). Only rank 0 of a
        DDP run writes."""
        if self.world.is_main:
            self.trained.save_weights(name, model)

    def save_arrays(self, name: str, arrays: Mapping[str, Any]) -> None:
        """Keep fitted arrays for ``predict`` (normalisation statistics, embeddings, a training graph's
        features), as ``trained/<name>.arrays.safetensors``."""
        if self.world.is_main:
            self.trained.save_arrays(name, arrays)

    def save_state(self, name: str, data: Mapping[str, Any]) -> None:
        """Keep fitted settings for ``predict`` (thresholds, the chosen model, class names) as JSON."""
        if self.world.is_main:
            self.trained.save_state(name, data)

    @property
    def n_jobs(self) -> int:
        """``parallel.n_jobs``: worker processes for independent jobs (``-1``: one per core)."""
        return self.config.parallel.n_jobs

    @property
    def world(self) -> World:
        """This process's rank among the run's DDP processes (rank 0 of 1 without DDP)."""
        return world()

    def run_jobs(
        self,
        fn: Callable[..., T],
        jobs: Sequence[Job],
        on_result: Callable[[Job, T], None] | None = None,
    ) -> list[T]:
        """Run independent jobs (subjects, folds, seeds, ensemble members) under the pipeline's
        ``parallel`` settings, each seeded from the run's seed and its name; results in job order
        (see :func:`sciconv.parallel.run_jobs`)."""
        settings = self.config.parallel
        return run_jobs(
            fn,
            jobs,
            n_jobs=settings.n_jobs,
            seed=self.seed,
            threads_per_job=settings.threads_per_job,
            on_result=on_result,
        )


def _model_factory_named(name: str) -> Callable[..., Any]:
    from sciconv.registry import get_registry

    return get_registry().load("models", name)


def own_model_name(configured: str, factory: Callable[..., Any]) -> str | None:
    """The class (or function) name of a pipeline's model that is the user's own, for reports and logs: a factory
    set in Python (``pipe.model = MyNet``, which leaves ``model.name`` as the pipeline file had it), a ``python:``
    reference, or a predict given ``model=``. ``None`` when ``factory`` is the registered model that ``configured``
    names, so that a task keeps calling it by its method's name (``SkyReconNet``, ``Swin UNETR``)."""
    from sciconv.errors import SciconvError
    from sciconv.provenance import is_python_reference

    if not is_python_reference(configured):
        try:
            if _model_factory_named(configured) is factory:
                return None
        except SciconvError:
            pass  # not registered here: the factory is named by what it is
    return getattr(factory, "__name__", None) or type(factory).__name__


def _build_named_model(name: str, spec: DataSpec, params: Mapping[str, Any]) -> torch.nn.Module:
    """The registered model ``name`` sized from ``spec``, with ``params`` checked against its signature."""
    from sciconv.params import check_params

    factory = _model_factory_named(name)
    return factory(spec, **check_params("model", name, factory, params))


class PredictContext:
    """What a task's ``predict`` sees: the finished run's configuration and trained state, the model factory,
    the engine (for batched inference), and where to write files.

    ``trained`` holds what :meth:`RunContext.save_weights` / ``save_arrays`` / ``save_state`` kept, verified
    against its manifest; ``spec`` is the training data's spec; ``split`` is ``"all"`` (every sample of the
    new data) or ``"test"`` (its test split, to reproduce the run's own test metrics).
    """

    def __init__(
        self,
        config: PipelineConfig,
        trained: TrainedState,
        engine: Engine,
        model_factory: Callable[..., Any],
        model_params: dict[str, Any],
        split: str,
        out_dir: Path,
        log: Callable[[str], None],
    ) -> None:
        self.config = config
        self.trained = trained
        self.engine = engine
        self._model_factory = model_factory
        self._model_params = model_params
        self.split = split
        self.out_dir = out_dir
        self._log = log

    @property
    def spec(self) -> DataSpec | None:
        """The spec of the data the run trained on."""
        return self.trained.spec

    @property
    def seed(self) -> int:
        return self.config.train.seed

    @property
    def device(self) -> torch.device:
        return self.engine.device

    def log(self, message: str) -> None:
        """Print a progress message for the user (stderr)."""
        self._log(message)

    def samples(self, bundle: DataBundle) -> Any:
        """The samples to predict: every split of ``bundle`` in the order train, val, test (``split="all"``), or
        its test split (``split="test"``)."""
        from torch.utils.data import ConcatDataset

        if self.split == "test":
            if bundle.test is None:
                raise DataError("--split test: the data have no test split (this task makes its own folds)")
            return bundle.test
        parts = [part for part in (bundle.train, bundle.val, bundle.test) if part is not None and len(part) > 0]
        if not parts:
            raise DataError("the data hold no samples to predict")
        return parts[0] if len(parts) == 1 else ConcatDataset(parts)

    @property
    def model_factory(self) -> Callable[..., Any]:
        return self._model_factory

    @property
    def model_params(self) -> dict[str, Any]:
        return dict(self._model_params)

    def build_model(self, spec: DataSpec | None = None, *, name: str | None = None, **params: Any) -> torch.nn.Module:
        """A new, untrained model as the run built it (the pipeline's model with ``model.params`` updated by
        ``params``, or the registered model ``name``); load its weights with :meth:`load_weights`."""
        spec = spec or self.spec
        if spec is None:
            raise DataError("the run saved no data spec to size its model from")
        if name is None:
            return self._model_factory(spec, **{**self._model_params, **params})
        return _build_named_model(name, spec, params)

    def model_factory_named(self, name: str) -> Callable[..., Any]:
        """The factory of the registered model ``name``."""
        return _model_factory_named(name)

    def own_model_name(self) -> str | None:
        """The name of the pipeline's model when it is the user's own (see :func:`own_model_name`), else ``None``."""
        return own_model_name(self.config.model.name, self._model_factory)

    def load_weights(self, name: str, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` with the weights the run saved as ``name`` (hash-checked); in eval mode."""
        self.trained.load_weights(name, model)
        return model.eval()

    def load_state(self, name: str) -> dict[str, Any]:
        return self.trained.load_state(name)

    def load_arrays(self, name: str) -> dict[str, Any]:
        return self.trained.load_arrays(name)

    def trainer(self, **overrides: Any) -> Trainer:
        """The run's ``train`` settings (for batched inference in job workers: ``trainer().predict``)."""
        return Trainer({**self.config.train.model_dump(), **overrides})

    def predict(self, model: torch.nn.Module, data: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets of ``model`` on ``data`` (see :meth:`sciconv.engine.Engine.predict`)."""
        return self.engine.predict(model, data, **kwargs)

    def run_jobs(self, fn: Callable[..., T], jobs: Sequence[Job]) -> list[T]:
        """Independent jobs under the pipeline's ``parallel`` settings (see :meth:`RunContext.run_jobs`)."""
        settings = self.config.parallel
        return run_jobs(fn, jobs, n_jobs=settings.n_jobs, seed=self.seed, threads_per_job=settings.threads_per_job)
