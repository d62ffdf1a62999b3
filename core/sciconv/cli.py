"""The ``pipeline`` command.

``pipeline list``, ``pipeline plugins`` and ``pipeline show`` import neither torch nor any plugin's heavy
dependency: they read entry points, the plugins' light hook modules and the pipeline files. (``validate`` and
``run`` import the components' modules, to check their parameters against their signatures.)

When the reader of its output goes away (``pipeline list | head -1``), a command stops quietly with exit
status 141 (128 + SIGPIPE, what a shell reports for a tool that SIGPIPE ends), as command-line tools do.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciconv import __version__
from sciconv.errors import ConfigError, SciconvError

EXIT_BROKEN_PIPE = 141
"""Exit status when stdout's reader has gone: 128 + SIGPIPE (13), as shells report it (fixed, since Windows
has no SIGPIPE)."""


def _print_err(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except BrokenPipeError:  # stderr's reader has gone too (`pipeline list 2>&1 | head -1`): nowhere to say it
        _discard(sys.stderr)


def _reader_gone(stream: Any) -> bool:
    """Whether ``stream`` is a pipe (or socket) whose reader has closed it, so that a BrokenPipeError came from
    writing to it, and not from some other pipe a command used."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # not a file descriptor (output captured in process): the broken pipe is not this stream's
    try:
        import select

        poller = select.poll()
    except (ImportError, AttributeError):  # no poll() (Windows): take the documented recipe's view
        return True
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def _discard(stream: Any) -> None:
    """Point ``stream``'s file descriptor at the null device, so that the interpreter's final flush of what is
    still buffered does not fail again (the recipe of Python's ``signal`` documentation)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file descriptor: nothing is flushed to it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _flush_stdout() -> bool:
    """Flush stdout; ``False`` (and stdout discarded) when its reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        if not _reader_gone(sys.stdout):
            raise
        _discard(sys.stdout)
        return False
    return True


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    _print_err(f"warning: {message}")


def _split_target(target: str | None, overrides: list[str]) -> tuple[str | None, list[str]]:
    """``pipeline run --resume DIR a.b=1``: argparse takes the first override as the target."""
    if target is not None and "=" in target and not target.endswith((".yaml", ".yml")):
        return None, [target, *overrides]
    return target, overrides


# --- commands -----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from sciconv.registry import get_registry
    from sciconv.yamlio import read_yaml

    registry = get_registry()
    rows: list[dict[str, Any]] = []
    for name in registry.names("pipelines"):
        entry = registry.entry("pipelines", name)
        try:
            data = read_yaml(entry.load())
            description = str(data.get("description", "")) if isinstance(data, dict) else ""
        except SciconvError as exc:
            description = f"(unreadable: {exc})"
        rows.append({"name": name, "plugin": entry.plugin, "description": description})
    # A pipeline name that several plugins register is listed, marked: it does not run until one is uninstalled.
    for clash in registry.clashes:
        if clash.kind == "pipelines" and not all(claim.as_alias for claim in clash.claims):
            rows.append(
                {
                    "name": clash.name,
                    "plugin": None,
                    "plugins": list(clash.plugins),
                    "description": f"CLASH: registered by {' and '.join(map(repr, clash.plugins))}, so it does "
                    f"not run; {clash.remedy()}",
                    "clash": clash.message(),
                }
            )
    rows.sort(key=lambda r: r["name"])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no pipelines are registered (see `pipeline plugins`)")
        return 0
    plugin_column = [r["plugin"] or ",".join(r["plugins"]) for r in rows]
    width = max(len(r["name"]) for r in rows)
    pwidth = max(len(p) for p in plugin_column)
    for r, plugin in zip(rows, plugin_column, strict=True):
        print(f"{r['name']:<{width}}  {plugin:<{pwidth}}  {r['description']}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from sciconv.registry import KINDS, get_registry

    registry = get_registry()
    plugins = []
    for info in sorted(registry.plugins.values(), key=lambda p: p.name):
        item = info.to_dict()
        item["contributes"] = {
            kind: sorted(n for n, e in registry.entries[kind].items() if e.plugin == info.name) for kind in KINDS
        }
        # names it shares with other plugins: usable through neither (listed in no plugin's "contributes")
        item["clashes"] = [clash.to_dict() for clash in registry.clashes_of(info.name)]
        plugins.append(item)
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for item in plugins:
        version = item["version"] or "?"
        print(f"{item['name']} {version}" + (f" ({item['distribution']})" if item["distribution"] else ""))
        if item["error"]:
            print(f"  FAILED TO LOAD: {item['error']}")
            continue
        print(f"  hooks: {', '.join(item['hooks']) or 'none'}")
        for kind, names in item["contributes"].items():
            if names:
                print(f"  {kind}: {', '.join(names)}")
        for clash in item["clashes"]:
            print(f"  CLASH: {clash['message']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from sciconv.config import load_config_file
    from sciconv.pipeline import Pipeline, resolve_pipeline_file
    from sciconv.yamlio import dump_yaml

    # The file, the overrides and the component names are checked; the components' parameters are checked
    # by validate and run, which import the components' modules (torch, for most): show stays as quick as list.
    path = resolve_pipeline_file(args.target)
    pipe = Pipeline(load_config_file(path, args.overrides), source=path)
    _check_names(pipe)
    sys.stdout.write(dump_yaml(pipe.resolved_config()))
    return 0


def _check_names(pipe: Any) -> None:
    """Check that a pipeline's registered component and conv backend names resolve, with the messages of
    :meth:`sciconv.pipeline.Pipeline.validate`, without importing what they refer to."""
    from sciconv.errors import NotFoundError
    from sciconv.provenance import is_python_reference
    from sciconv.registry import get_registry

    registry = get_registry()
    for kind in ("dataset", "model", "task"):
        name = getattr(pipe.config, kind).name
        if is_python_reference(name):
            continue  # a `python:` reference is imported, and checked, by validate and run
        try:
            registry.entry(kind + "s", name)
        except NotFoundError as exc:
            raise NotFoundError(f"{kind}.name: {exc}") from None
    try:
        registry.entry("conv_backends", pipe.config.conv.backend)
    except NotFoundError as exc:
        raise ConfigError(f"conv.backend: {exc}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from sciconv.pipeline import load_pipeline

    pipe = load_pipeline(args.file, args.overrides)
    print(
        f"{args.file}: valid pipeline {pipe.config.name!r} ({pipe.config.task.name}, "
        f"{pipe.config.dataset.name}, {pipe.config.model.name})"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from sciconv.pipeline import run

    target, overrides = _split_target(args.target, args.overrides)
    if target is None and args.resume is None:
        raise ConfigError("pipeline run: name a pipeline or a pipeline file (or give --resume DIR)")
    if args.resume is not None and args.run_dir is not None:
        raise ConfigError("pipeline run: --run-dir and --resume cannot be used together")
    if args.sweep is not None or (args.resume is not None and (Path(args.resume) / "sweep.yaml").is_file()):
        return _cmd_sweep(args, target, overrides)
    for flag, value in (
        ("--sweep-random", args.sweep_random),
        ("--sweep-metric", args.sweep_metric),
        ("--sweep-mode", args.sweep_mode),
    ):
        if value is not None:
            raise ConfigError(f"pipeline run: {flag} needs --sweep KEY=V1,V2 (or --resume SWEEP_DIR)")
    if args.nproc is not None and args.nproc != 1:
        from sciconv.distributed import launched_by_torchrun
        from sciconv.launcher import launch_pipeline

        if launched_by_torchrun():
            raise ConfigError("pipeline run: --nproc cannot be used in a process that torchrun already started")
        outcome = launch_pipeline(
            target, overrides, nproc=args.nproc, run_dir=args.run_dir, resume=args.resume, debug=args.debug
        )
        metrics, run_dir = outcome["metrics"], outcome["run_dir"]
    else:
        from sciconv import distributed

        try:
            result = run(target, overrides, run_dir=args.run_dir, resume=args.resume)
        finally:
            distributed.teardown()  # a rank started by torchrun leaves its process group
        metrics, run_dir = result.metrics, result.run_dir
        if distributed.launched_by_torchrun() and os.environ.get("RANK") != "0":
            return 0  # rank 0 reports
    _print_metrics(metrics)
    print(f"run directory: {run_dir}")
    return 0


def _cmd_sweep(args: argparse.Namespace, target: str | None, overrides: list[str]) -> int:
    """``pipeline run NAME --sweep ...`` and ``pipeline run --resume SWEEP_DIR``."""
    from sciconv.sweeps import point_line, sweep

    if args.nproc is not None and args.nproc != 1:
        raise ConfigError(
            "pipeline run: --nproc cannot be used with a sweep (its points run parallel.n_jobs at a time)"
        )
    if args.resume is not None and (args.sweep is not None or args.sweep_random is not None):
        raise ConfigError(
            f"pipeline run --resume {args.resume}: a sweep continues with its own points; --sweep and --sweep-random "
            "cannot be given"
        )

    def on_point(row: dict[str, Any], metric: str | None) -> None:
        print(point_line(row, metric), flush=True)

    result = sweep(
        target,
        args.sweep or (),
        overrides,
        random=args.sweep_random,
        metric=args.sweep_metric,
        mode=args.sweep_mode,
        sweep_dir=args.run_dir,
        resume=args.resume,
        log=_print_err,
        on_point=on_point,
    )
    print(f"sweep: {result.sweep_dir / 'sweep.md'}")
    if result.best is not None:
        value = result.best[result.metric]
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"best: {result.best['point']} ({result.metric}={shown}, {result.mode}imum of the sweep)")
    result.check()
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sciconv.comparison import compare

    comparison = compare(args.dirs, metrics=args.metrics)
    if args.out is not None:
        path = comparison.write(args.out)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
    elif args.out is not None:
        print(f"comparison of {len(comparison.runs)} runs: {path}")
    else:
        sys.stdout.write(comparison.to_markdown())
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from sciconv.predicting import predict

    prediction = predict(args.run_dir, args.overrides, out=args.out, split=args.split)
    for name, table in prediction.tables.items():
        print(f"{name}: {len(table)} rows")
    if prediction.metrics:
        _print_metrics(prediction.metrics)
    print(f"predictions: {prediction.out_dir}")
    return 0


def _print_metrics(metrics: dict[str, Any]) -> None:
    shown = list(metrics.items())[:12]
    for key, value in shown:
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if len(metrics) > len(shown):
        print(f"... {len(metrics) - len(shown)} more in metrics.json")


def cmd_bench_conv(args: argparse.Namespace) -> int:
    from sciconv.conv import available_backends, get_backend
    from sciconv.conv.auto import AutoTable, default_cache_path
    from sciconv.conv.auto import backend as auto_backend
    from sciconv.conv.tuning import Measurement, default_grid, quick_grid, tune
    from sciconv.tracing import trace_pipeline

    path = Path(args.cache) if args.cache else default_cache_path()
    base = None
    if path.exists() and not args.fresh:
        try:
            base = AutoTable.load(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--cache: {exc} (pass --fresh to replace it)") from None
        if not base.matches_machine():
            _print_err(f"note: {path} was measured on another machine or thread count; starting afresh")
            base = None
    if args.show:
        if base is None:
            print(f"no tuning cache for this machine at {path}; auto uses its defaults")
            return 0
        _print_table(base, path)
        return 0
    names = args.backends.split(",") if args.backends else [n for n in available_backends() if n != "auto"]
    if "torch" not in names:
        names.insert(0, "torch")
    backends = {name: get_backend(name) for name in names}
    if args.repeats < 1 or args.budget <= 0 or args.min_time < 0:
        raise ConfigError("--repeats must be >= 1, --budget > 0 and --min-time >= 0")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available to this torch build")
    calls = {"default": default_grid, "quick": quick_grid, "none": lambda device: []}[args.grid](args.device)
    for target in args.pipelines:
        traced = trace_pipeline(target, batch_size=args.batch_size)
        _print_err(f"{target}: {len(traced)} convolution signatures")
        calls.extend(dataclasses.replace(call, device=args.device) for call in traced)

    def progress(m: Measurement) -> None:
        times = ", ".join(f"{name} {t * 1e3:.3g} ms" for name, t in m.times.items())
        wrong = "".join(f", {name} incorrect ({why})" for name, why in m.incorrect.items())
        _print_err(f"{m.call.key}: {times}{wrong} -> {m.best}")

    table = tune(
        calls,
        backends,
        repeats=args.repeats,
        budget_s=args.budget,
        min_time_s=args.min_time,
        base=base,
        progress=progress,
    )
    table.save(path)
    auto_backend.reload()
    _print_table(table, path)
    return 0


def _print_table(table: Any, path: Path) -> None:
    print(f"tuning cache: {path} ({len(table.shapes)} measured signatures)")
    print("fft crossover (fewest kernel taps at which fft beats torch; '-' = never):")
    for device, ops in sorted(table.crossover.items()):
        for op, kinds in sorted(ops.items()):
            for kind, modes in sorted(kinds.items()):
                cells = ", ".join(f"{mode} {'-' if v is None else v}" for mode, v in sorted(modes.items()))
                print(f"  {device} {op} {kind}: {cells}")
    wins: dict[str, int] = {}
    for entry in table.shapes.values():
        wins[entry["best"]] = wins.get(entry["best"], 0) + 1
    print("fastest backend per signature: " + ", ".join(f"{n} {c}" for n, c in sorted(wins.items())))


# --- parser -------------------------------------------------------------------------------------


def _add_global_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show the full traceback of an error")
    parser.add_argument(
        "--strict-plugins",
        action="store_true",
        default=default,
        help="treat a plugin that fails to load as an error (also SCICONV_STRICT_PLUGINS=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Run sciconv pipelines: domain deep-learning methods with their data, baselines and reports.",
    )
    parser.add_argument("--version", action="version", version=f"sciconv {__version__}")
    _add_global_flags(parser, default=False)
    # The same flags are accepted after the command too (`pipeline run x --debug`).
    common = argparse.ArgumentParser(add_help=False)
    _add_global_flags(common, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_parser = sub.add_parser

    def add_parser(*args: Any, **kwargs: Any) -> argparse.ArgumentParser:
        return _add_parser(*args, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    p = sub.add_parser("list", help="list runnable pipelines", description="List runnable pipelines.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show",
        help="print a pipeline's resolved configuration",
        description=(
            "Print a pipeline's resolved configuration, overrides applied. The file, the overrides and the component"
            " names are checked; `pipeline validate` also checks the components' parameters."
        ),
    )
    p.add_argument("target", metavar="NAME|FILE")
    p.add_argument("overrides", nargs="*", metavar="KEY.SUB=VALUE", help="overrides, values parsed as YAML")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "run",
        help="run a pipeline (or a sweep of runs)",
        description=(
            "Run a pipeline into a run directory. With --sweep, run it at every point of a grid of settings (or at"
            " --sweep-random N points drawn from ranges), each point a run directory under one sweep directory"
            " that holds sweep.csv and sweep.md; points run parallel.n_jobs at a time."
        ),
    )
    p.add_argument("target", metavar="NAME|FILE", nargs="?")
    p.add_argument("overrides", nargs="*", metavar="KEY.SUB=VALUE", help="overrides, values parsed as YAML")
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help=(
            "write the run here (a new or empty folder); a sweep's folder (default:"
            " <output.root>/<pipeline>/sweep-<time>/)"
        ),
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its last checkpoint (or the sweep in DIR: its unfinished points)",
    )
    p.add_argument(
        "--sweep",
        nargs="+",
        action="extend",
        metavar="KEY=V1,V2",
        help=(
            "sweep KEY over the values (parsed as YAML, split on commas outside brackets and quotes:"
            " model.params.widths=[8,16],[16,32]); the grid of all axes runs. With --sweep-random an axis may also"
            " be a range LO..HI (uniform; integers when both ends are) or LO..HI:log. Fixed overrides go before"
            " --sweep"
        ),
    )
    p.add_argument(
        "--sweep-random",
        type=int,
        metavar="N",
        help="run N points drawn at random from the axes (seeded by the pipeline's train.seed) instead of the grid",
    )
    p.add_argument(
        "--sweep-metric",
        metavar="KEY",
        help="the metric that ranks the points (default: the first metric that is not a timing)",
    )
    p.add_argument(
        "--sweep-mode",
        choices=("max", "min"),
        help="whether the best point maximises or minimises the metric (default: min for a loss or error, else max)",
    )
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train data-parallel in N local processes (DDP through torchrun's launcher; gloo on CPU, NCCL on GPUs)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "predict",
        help="apply a finished run's trained model to new data",
        description=(
            "Apply a completed run to new data: its task and model as trained, its weights and fitted state "
            "checked against their manifest, the data given by overrides (typically dataset.params.root=NEW). "
            "Nothing is trained; the predictions are written in the field's format into --out."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="dataset.KEY=VALUE", help="dataset overrides, values parsed as YAML")
    p.add_argument(
        "--out", metavar="DIR", help="write here (a new or empty folder; default RUN_DIR/predictions/<time>/)"
    )
    p.add_argument(
        "--split",
        choices=("all", "test"),
        default="all",
        help="predict every sample (default) or only the test split (to reproduce the run's test metrics)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "compare",
        help="metrics and settings of several runs side by side",
        description=(
            "Compare runs: each DIR is a run directory, a sweep directory (its points) or a folder of run"
            " directories (the runs in it). Prints markdown: the runs, their final metrics side by side, and the"
            " settings of their resolved config.yaml that differ (with more than 6 runs, one row per run)."
        ),
    )
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    p.add_argument(
        "--out",
        metavar="FILE.md",
        help="write the markdown to FILE.md (replaced if it exists: it is derived from the runs, which are unchanged)",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="GLOB",
        help="compare only the metrics whose key matches one of these patterns ('test.*'); give it after the DIRs",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "plugins",
        help="list installed plugins",
        description="List installed plugins, their versions, hooks, contributions and load errors.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser(
        "bench-conv",
        help="measure conv backends here and cache the choices of the auto backend",
        description=(
            "Time every dense conv backend on a grid of shapes (and on the convolutions of the pipelines named),"
            " check each against torch, and write the fastest correct backend per signature and the fitted fft"
            " crossovers to the tuning cache that conv.backend=auto reads."
        ),
    )
    p.add_argument("pipelines", nargs="*", metavar="PIPELINE", help="also measure these pipelines' own layers")
    p.add_argument("--grid", choices=("default", "quick", "none"), default="default", help="shape grid to fit on")
    p.add_argument("--backends", metavar="A,B", help="backends to measure (default: all registered but auto)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per backend and shape (median)")
    p.add_argument("--budget", type=float, default=2.0, help="seconds one backend may spend on one shape")
    p.add_argument("--min-time", type=float, default=0.2, help="seconds of cheap calls timed per backend and shape")
    p.add_argument("--batch-size", type=int, help="batch size for tracing pipelines (default: train.batch_size)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device of the grid shapes")
    p.add_argument("--cache", metavar="FILE", help="tuning cache to update (default: ~/.cache/sciconv/conv-auto.json)")
    p.add_argument("--fresh", action="store_true", help="discard the cache's earlier measurements")
    p.add_argument("--show", action="store_true", help="print the cache's crossovers and exit")
    p.set_defaults(func=cmd_bench_conv)

    p = sub.add_parser(
        "validate",
        help="check a pipeline file without running it",
        description="Check a pipeline file (schema, component names and parameters).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("overrides", nargs="*", metavar="KEY.SUB=VALUE")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pipeline`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit:
        # --help and --version leave through argparse, which ignores a failed write itself; what is still
        # buffered is flushed here, so that a reader that has gone does not fail the interpreter's final flush.
        if not _flush_stdout():
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        raise
    # Overrides may also follow the flags (`pipeline run NAME --nproc 2 train.epochs=3`).
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from sciconv.registry import set_strict

    saved_showwarning = warnings.showwarning
    try:
        if not args.debug:
            warnings.showwarning = _show_warning  # type: ignore[assignment]
        if args.strict_plugins:
            set_strict(True)
        return _dispatch(args)
    finally:
        warnings.showwarning = saved_showwarning
        if args.strict_plugins:
            set_strict(None)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        code = int(args.func(args) or 0)
        # what is still buffered goes now, so that a reader that has gone is noticed here, not at exit
        return code if _flush_stdout() else EXIT_BROKEN_PIPE
    except BrokenPipeError as exc:
        if not _reader_gone(sys.stdout):
            return _report_unexpected(args, exc)
        _discard(sys.stdout)
        return EXIT_BROKEN_PIPE
    except SciconvError as exc:
        if args.debug:
            traceback.print_exc()
        _print_err(f"error: {exc}")
        for note in getattr(exc, "__notes__", []):
            _print_err(f"note: {note}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # Ctrl-C (SIGINT, exit 130) or a stop request (SIGTERM: RunInterrupted, exit 143)
        _print_err(f"interrupted ({exc})" if str(exc) else "interrupted")
        for note in getattr(exc, "__notes__", []):
            _print_err(f"note: {note}")
        return int(getattr(exc, "exit_code", 130))
    except Exception as exc:
        return _report_unexpected(args, exc)


def _report_unexpected(args: argparse.Namespace, exc: Exception) -> int:
    """An exception that is not a :class:`SciconvError` (a bug): one line, or the traceback with --debug."""
    if args.debug:
        traceback.print_exception(exc)
        _print_err(f"error: {type(exc).__name__}: {exc}")
    else:
        _print_err(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
    for note in getattr(exc, "__notes__", []):
        _print_err(f"note: {note}")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
