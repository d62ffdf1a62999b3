"""Conformance checks every sciconv component must pass (see :mod:`sciconv.testing`)."""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciconv.components import DataBundle
from sciconv.errors import SciconvError
from sciconv.params import check_params
from sciconv.pipeline import Pipeline, load_pipeline
from sciconv.registry import get_registry
from sciconv.spec import DataSpec

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class ConformanceError(AssertionError):
    """A component does not honour the sciconv contract."""


def _fail(what: str, problem: str) -> ConformanceError:
    return ConformanceError(f"{what}: {problem}")


def _factory(kind: str, name_or_obj: Any) -> tuple[Any, str]:
    if isinstance(name_or_obj, str):
        return get_registry().load(kind + "s", name_or_obj), name_or_obj
    return name_or_obj, getattr(name_or_obj, "__qualname__", repr(name_or_obj))


def _item_shape(x: Any) -> tuple[int, ...] | None:
    return tuple(x.shape) if hasattr(x, "shape") else None


def check_dataset(name_or_factory: Any, params: Mapping[str, Any] | None = None) -> DataBundle:
    """Build and load a dataset; check the bundle, the spec and that samples match the spec.

    Checks: ``load()`` returns a :class:`DataBundle` with a :class:`DataSpec`; the train split is
    non-empty; every split's first and last items are ``(x, y)`` pairs with ``x.shape ==
    spec.input_shape``, finite floating-point values, and (for classification) integer labels in
    ``[0, n_outputs)``.
    """
    import torch

    factory, name = _factory("dataset", name_or_factory)
    what = f"dataset {name!r}"
    checked = check_params("dataset", name, factory, dict(params or {}))
    bundle = factory(**checked).load()
    if not isinstance(bundle, DataBundle):
        raise _fail(what, f"load() returned {type(bundle).__name__}, expected DataBundle")
    spec = bundle.spec
    if not isinstance(spec, DataSpec):
        raise _fail(what, f"bundle.spec is {type(spec).__name__}, expected DataSpec")
    if bundle.train is None or len(bundle.train) == 0:
        raise _fail(what, "the train split is empty")
    for split_name in ("train", "val", "test"):
        split = getattr(bundle, split_name)
        if split is None or len(split) == 0:
            continue
        for index in sorted({0, len(split) - 1}):
            item = split[index]
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise _fail(what, f"{split_name}[{index}] is not an (x, y) pair")
            x, y = item
            x = torch.as_tensor(x)
            if tuple(x.shape) != spec.input_shape:
                raise _fail(
                    what,
                    f"{split_name}[{index}] has shape {tuple(x.shape)}, spec.input_shape is {spec.input_shape}",
                )
            if not x.is_floating_point():
                raise _fail(what, f"{split_name}[{index}] has dtype {x.dtype}, expected floating point")
            if not torch.isfinite(x).all():
                raise _fail(what, f"{split_name}[{index}] holds NaN or infinite values")
            if spec.task_type == "classification":
                y = torch.as_tensor(y)
                if y.is_floating_point() or y.ndim != 0:
                    raise _fail(what, f"{split_name}[{index}] label {y!r} is not an integer class index")
                if not 0 <= int(y) < spec.n_outputs:
                    raise _fail(what, f"{split_name}[{index}] label {int(y)} outside [0, {spec.n_outputs})")
    return bundle


def check_model(
    name_or_factory: Any, spec: DataSpec, params: Mapping[str, Any] | None = None, batch_size: int = 2
) -> Any:
    """Build a model from ``spec``; run forward and backward on a random batch; round-trip its weights.

    Checks: the factory returns an ``nn.Module`` with trainable parameters; the output of a batch of
    shape ``(batch_size, *spec.input_shape)`` has ``batch_size`` rows (and ``n_outputs`` columns for
    classification and regression) and is finite; every trainable parameter receives a finite gradient (from
    the output, plus the model's ``auxiliary_loss()`` where it defines one); weights saved as safetensors and
    loaded into a freshly built model give the same output.
    """
    import torch

    from sciconv.checkpoint import load_weights, save_weights

    factory, name = _factory("model", name_or_factory)
    what = f"model {name!r}"
    checked = check_params("model", name, factory, dict(params or {}))
    model = factory(spec, **checked)
    if not isinstance(model, torch.nn.Module):
        raise _fail(what, f"the factory returned {type(model).__name__}, expected torch.nn.Module")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise _fail(what, "has no trainable parameters")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *spec.input_shape), generator=generator)
    model.train()
    out = model(x)
    if not isinstance(out, torch.Tensor):
        raise _fail(what, f"forward returned {type(out).__name__}, expected a tensor")
    if out.shape[0] != batch_size:
        raise _fail(what, f"output has {out.shape[0]} rows for a batch of {batch_size}")
    if spec.task_type in ("classification", "regression") and tuple(out.shape) != (
        batch_size,
        spec.n_outputs,
    ):
        raise _fail(what, f"output shape {tuple(out.shape)}, expected {(batch_size, spec.n_outputs)}")
    if not torch.isfinite(out).all():
        raise _fail(what, "forward produced NaN or infinite values")
    loss = out.float().square().mean()
    auxiliary = getattr(model, "auxiliary_loss", None)  # a model's own loss term, which training adds (engine)
    extra = auxiliary() if callable(auxiliary) else None
    (loss if extra is None else loss + extra).backward()
    no_grad = [n for n, p in trainable if p.grad is None]
    if no_grad:
        raise _fail(what, f"parameters without gradient (unused in forward?): {', '.join(no_grad[:5])}")
    bad_grad = [n for n, p in trainable if not torch.isfinite(p.grad).all()]
    if bad_grad:
        raise _fail(what, f"non-finite gradients in {', '.join(bad_grad[:5])}")
    model.eval()
    with torch.no_grad():
        reference = model(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_weights(path, model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(12345)
            fresh = factory(spec, **checked)
        load_weights(path, fresh)
    fresh.eval()
    with torch.no_grad():
        again = fresh(x)
    if not torch.allclose(reference, again, rtol=1e-5, atol=1e-6):
        raise _fail(what, "output differs after a safetensors round trip (state not all in state_dict?)")
    return model


def check_task(name_or_factory: Any, params: Mapping[str, Any] | None = None) -> Any:
    """Build a task from its parameters and check its contract.

    Checks: the parameters fit the factory's signature; the task's own ``validate()`` (if any) accepts them;
    ``run`` is a method taking exactly one argument, the run context; ``model_spec`` (if present) is callable.
    Running the task is checked by :func:`check_pipeline_runs`.
    """
    import inspect

    factory, name = _factory("task", name_or_factory)
    what = f"task {name!r}"
    checked = check_params("task", name, factory, dict(params or {}))
    task = factory(**checked)
    run = getattr(task, "run", None)
    if not callable(run):
        raise _fail(what, "has no run(ctx) method")
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        required = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        if len(required) != 1:
            raise _fail(what, f"run{signature} must take exactly one argument, the run context")
    validate = getattr(task, "validate", None)
    if callable(validate):
        try:
            validate()
        except SciconvError as exc:
            raise _fail(what, f"validate() rejects the parameters it was built with: {exc}") from None
    if hasattr(task, "model_spec") and not callable(task.model_spec):
        raise _fail(what, "model_spec is not callable")
    return task


def check_pipeline_runs(
    target: str | Path, overrides: Mapping[str, Any] | None = None, *, repeats: int = 2
) -> dict[str, Any]:
    """Run a pipeline end to end ``repeats`` times with ``overrides`` (small data, a short schedule) into
    temporary run directories, and check the runs: each finishes with a non-empty ``metrics.json``, a
    ``config.yaml`` and a ``report.md``, and every run gives the same metrics as the first: the same seed must
    give the same numbers (to a relative 1e-6, for threaded float reductions; NaN equals NaN; timings such as
    ``train_seconds`` are not compared). The first run is then applied to its own test split with ``predict``
    (:func:`check_prediction`), which must reproduce its metrics exactly. Returns the first run's metrics."""
    from sciconv.pipeline import run

    what = f"pipeline {str(target)!r}"
    first: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="sciconv-conformance-") as tmp:
        for attempt in range(repeats):
            run_dir = Path(tmp) / f"run-{attempt}"
            try:
                result = run(target, dict(overrides or {}), run_dir=run_dir)
            except SciconvError as exc:
                raise _fail(what, f"run {attempt + 1} failed: {exc}") from None
            for required in ("metrics.json", "config.yaml", "report.md"):
                if not (run_dir / required).is_file():
                    raise _fail(what, f"run {attempt + 1} wrote no {required}")
            metrics = dict(result.metrics)
            if not metrics:
                raise _fail(what, "reported no metrics")
            if first is None:
                first = metrics
                check_prediction(run_dir, metrics, what)
                continue
            differ = sorted(
                k
                for k in set(first) | set(metrics)
                if not _same_value(k, first.get(k, _MISSING), metrics.get(k, _MISSING))
            )
            if differ:
                shown = ", ".join(f"{k}: {first.get(k)!r} then {metrics.get(k)!r}" for k in differ[:3])
                raise _fail(what, f"the same seed gave different metrics in run {attempt + 1}: {shown}")
    assert first is not None
    return first


def check_prediction(run_dir: Path, metrics: Mapping[str, Any], what: str = "the run") -> dict[str, Any]:
    """Apply a finished run to its own test split (``pipeline predict RUN_DIR --split test``, nothing written) and
    check that it reproduces the run: predict reports metrics, each under a name of the run's ``metrics.json``,
    each exactly equal to the run's value (timings, such as an inference time, aside). Returns the prediction's
    metrics."""
    from sciconv.predicting import load_run

    try:
        prediction = load_run(run_dir).predict(split="test", log=lambda message: None)
    except SciconvError as exc:
        raise _fail(what, f"predict on the run's own test split failed: {exc}") from None
    if not prediction.tables:
        raise _fail(what, "predict returned no table of predictions")
    if not prediction.metrics:
        raise _fail(what, "predict on the run's labelled test split reported no metrics to compare with the run's")
    unknown = sorted(set(prediction.metrics) - set(metrics))
    if unknown:
        raise _fail(what, f"predict reported metrics the run does not have: {unknown[:5]}")
    differ = sorted(
        k
        for k, v in prediction.metrics.items()
        if not (v == metrics[k] or (v != v and metrics[k] != metrics[k]) or _TIMING.search(k.rsplit(".", 1)[-1]))
    )
    if differ:
        shown = ", ".join(f"{k}: run {metrics[k]!r}, predict {prediction.metrics[k]!r}" for k in differ[:3])
        raise _fail(what, f"predict on the run's own test split does not reproduce its metrics: {shown}")
    return dict(prediction.metrics)


_MISSING = object()
_TIMING = re.compile(r"seconds|wall_time|_s$|_ms$|ms_per_|speedup")
"""Metric keys that measure time (``train_seconds``, ``wall_time_s``, ``infer_ms``, ``ms_per_sample``) or ratios
of times (``speedup``, ``speedup_batched``): they differ between any two runs."""


def _same_value(key: str, a: Any, b: Any) -> bool:
    """Equal metrics: timings are not compared; floats agree to a relative 1e-6 (oneDNN's threaded
    reductions may round differently from run to run), NaN equals NaN; anything else compares exactly."""
    if _TIMING.search(key.rsplit(".", 1)[-1]):
        return True
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    return a == b


def check_pipeline_file(target: str | Path, overrides: Mapping[str, Any] | None = None) -> Pipeline:
    """Load and validate a pipeline (name or file): schema, component names and parameters."""
    try:
        return load_pipeline(target, dict(overrides or {}))
    except SciconvError as exc:
        raise _fail(f"pipeline {str(target)!r}", str(exc)) from None


@dataclass
class ConformanceReport:
    """What :func:`check_plugin` checked."""

    plugin: str
    pipelines: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    conv_backends: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Pipeline name -> the metrics of its tiny run (the same in both runs)."""


def check_plugin(
    plugin: str,
    pipeline_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    extra_models: Mapping[str, tuple[DataSpec, Mapping[str, Any]]] | None = None,
    extra_datasets: Mapping[str, Mapping[str, Any]] | None = None,
    extra_tasks: Mapping[str, Mapping[str, Any]] | None = None,
    conv_backend_check: Callable[[Any], None] | None = None,
    run_pipelines: bool = True,
) -> ConformanceReport:
    """Run the conformance checks over everything ``plugin`` contributes.

    Each of the plugin's pipelines is validated (with ``pipeline_overrides[name]`` applied, to make its
    data small) and its dataset, task and model (sized from ``task.model_spec(dataset spec)``) are checked. A
    dataset, model or task that no pipeline uses must be given in ``extra_*`` (params, or spec and
    params for models), so that every component is exercised. Convolution backends must expose
    ``conv1d/conv2d/conv3d`` matching torch's on a small input. Datasets, models and tasks must be named
    ``<plugin>.<kebab-case>``.

    With ``run_pipelines`` (the default), every pipeline then runs end to end twice on the ``tiny``
    overrides it was registered with, updated by ``pipeline_overrides[name]`` (where a test gives a
    real-data pipeline its ``dataset.params.root``), and must give the same metrics both times
    (:func:`check_pipeline_runs`). A pipeline registered without ``tiny`` overrides fails the check.
    """
    registry = get_registry()
    info = registry.plugins.get(plugin)
    if info is None:
        raise ConformanceError(f"plugin {plugin!r} is not installed (known: {', '.join(sorted(registry.plugins))})")
    if info.error:
        raise ConformanceError(f"plugin {plugin!r} failed to load: {info.error}")
    clashes = registry.clashes_of(plugin)
    if clashes:  # its clashing names belong to no one, so they would silently escape every check below
        raise ConformanceError(f"plugin {plugin!r}: {'; '.join(clash.message() for clash in clashes)}")
    report = ConformanceReport(plugin)
    owned = {kind: [n for n, e in registry.entries[kind].items() if e.plugin == plugin] for kind in registry.entries}
    overrides = dict(pipeline_overrides or {})
    unknown = set(overrides) - set(owned["pipelines"])
    if unknown:
        raise ConformanceError(
            f"pipeline_overrides names pipelines plugin {plugin!r} does not provide: {sorted(unknown)}"
        )

    for kind in ("datasets", "models", "tasks"):
        for component in owned[kind]:
            namespace, _, rest = component.partition(".")
            if namespace != plugin or not _KEBAB.match(rest):
                raise ConformanceError(
                    f"plugin {plugin!r}: {kind[:-1]} {component!r} is not named '{plugin}.<kebab-case>' "
                    f"(register the new name with aliases=({component!r},) to keep the old one working)"
                )

    specs: dict[str, DataSpec] = {}
    for name in sorted(owned["pipelines"]):
        pipe = check_pipeline_file(name, overrides.get(name))
        cfg = pipe.config
        bundle = check_dataset(cfg.dataset.name, cfg.dataset.params)
        specs[cfg.dataset.name] = bundle.spec
        task = check_task(cfg.task.name, cfg.task.params)
        model_spec = task.model_spec(bundle.spec) if callable(getattr(task, "model_spec", None)) else bundle.spec
        if not isinstance(model_spec, DataSpec):
            raise ConformanceError(f"task {cfg.task.name!r}: model_spec() returned {type(model_spec).__name__}")
        check_model(cfg.model.name, model_spec, cfg.model.params)
        report.pipelines.append(name)
        for kind, component in (
            ("datasets", cfg.dataset.name),
            ("models", cfg.model.name),
            ("tasks", cfg.task.name),
        ):
            if component in owned[kind] and component not in getattr(report, kind):
                getattr(report, kind).append(component)
    for name, params in (extra_datasets or {}).items():
        check_dataset(name, params)
        report.datasets.append(name)
    for name, (spec, params) in (extra_models or {}).items():
        check_model(name, spec, params)
        report.models.append(name)
    for name, params in (extra_tasks or {}).items():
        check_task(name, params)
        report.tasks.append(name)
    for name in sorted(owned["conv_backends"]):
        backend = registry.load("conv_backends", name)
        _check_conv_backend(name, backend)
        if conv_backend_check is not None:
            conv_backend_check(backend)
        report.conv_backends.append(name)
    for kind in ("datasets", "models", "tasks"):
        missing = sorted(set(owned[kind]) - set(getattr(report, kind)))
        if missing:
            raise ConformanceError(
                f"plugin {plugin!r}: {kind} {missing} are used by none of its pipelines; "
                f"pass them in extra_{kind} so that they are checked"
            )
    if run_pipelines:
        for name in sorted(owned["pipelines"]):
            tiny = registry.entries["pipelines"][name].tiny
            if tiny is None:
                raise ConformanceError(
                    f"pipeline {name!r} of plugin {plugin!r} declares no tiny overrides: register it with "
                    "tiny={...} (overrides that run it end to end in seconds)"
                )
            report.runs[name] = check_pipeline_runs(name, {**tiny, **overrides.get(name, {})})
    return report


def _check_conv_backend(name: str, backend: Any) -> None:
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    for dims in (1, 2, 3):
        op = getattr(backend, f"conv{dims}d", None)
        if not callable(op):
            raise _fail(f"conv backend {name!r}", f"has no conv{dims}d")
        x = torch.randn((2, 4) + (7,) * dims, generator=generator)
        w = torch.randn((6, 2) + (3,) * dims, generator=generator)
        b = torch.randn(6, generator=generator)
        expected = getattr(F, f"conv{dims}d")(x, w, b, 1, 1, 1, 2)
        got = op(x, w, b, 1, 1, 1, 2)
        if tuple(got.shape) != tuple(expected.shape) or not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
            err = (got - expected).abs().max().item() if got.shape == expected.shape else math.inf
            raise _fail(f"conv backend {name!r}", f"conv{dims}d differs from torch (max error {err:.3g})")
