"""The ``pipeline`` command when something around it goes wrong: two plugins registering the same name, a
reader that closes the pipe early (``pipeline list | head -1``), ``--debug``; and ``show`` staying as light
as ``list``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import sciconv
from sciconv import cli
from sciconv.registry import STRICT_ENV, PluginInfo, PluginWarning, get_registry, reset_registry, set_strict
from sciconv.yamlio import dump_yaml, parse_yaml

LAZY_PLUGIN = """\
import sciconv


@sciconv.hookimpl
def register_models(register):
    register("demo.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")  # the demo plugin's name
    register("lazy.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")


@sciconv.hookimpl
def register_pipelines(register):
    register("demo-signal", "sciconv.pipelines:demo-signal.yaml")  # the demo plugin's pipeline
"""


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``main`` may switch on strict mode and replace ``warnings.showwarning``: undo both."""
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    set_strict(None)
    yield
    set_strict(None)
    reset_registry()


def run_main(capsys: pytest.CaptureFixture[str], args: Sequence[str]) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (STRICT_ENV, "PYTHONWARNINGS")}
    env.update(extra or {})
    return env


def run_process(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sciconv", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- two plugins registering the same name ----------------------------------------------------------


@pytest.fixture
def lazy_plugin_env(tmp_path: Path) -> dict[str, str]:
    """A third-party distribution ``sciconv-lazy`` (plugin ``lazy``) that registers the demo plugin's model
    and pipeline names, installed as pip would (a dist-info with the entry point) on PYTHONPATH."""
    site = tmp_path / "site"
    dist = site / "sciconv_lazy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sciconv-lazy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sciconv]\nlazy = lazyplug_mod\n")
    (site / "lazyplug_mod.py").write_text(LAZY_PLUGIN)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return process_env({"PYTHONPATH": path})


def test_a_clash_breaks_no_command_and_plugins_reports_it(lazy_plugin_env: dict[str, str], tmp_path: Path) -> None:
    proc = run_process(["plugins"], lazy_plugin_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert error_lines(proc.stderr) == []
    warning_lines = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1, proc.stderr  # warned once, at load
    assert "pip uninstall sciconv-lazy" in warning_lines[0]
    clash_lines = [line.strip() for line in proc.stdout.splitlines() if "CLASH" in line]
    model_clash = [line for line in clash_lines if "model 'demo.cnn1d'" in line]
    assert len(model_clash) == 2  # under each of the two plugins
    for line in model_clash:
        assert "'demo' (distribution sciconv " in line
        assert "'lazy' (distribution sciconv-lazy 0.1)" in line
        assert line.endswith("`pip uninstall sciconv-lazy`")
    assert "lazy 0.1 (sciconv-lazy)" in proc.stdout
    assert "models: lazy.cnn1d" in proc.stdout  # the rest of the plugin is registered

    proc = run_process(["plugins", "--json"], lazy_plugin_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    plugins = {item["name"]: item for item in json.loads(proc.stdout)}
    (model,) = [c for c in plugins["lazy"]["clashes"] if c["kind"] == "models"]
    assert model["name"] == "demo.cnn1d"
    assert {(p["plugin"], p["distribution"]) for p in model["plugins"]} == {
        ("lazy", "sciconv-lazy"),
        ("demo", "sciconv"),
    }
    assert model["uninstall"] == ["pip uninstall sciconv-lazy"]
    assert plugins["lazy"]["contributes"]["models"] == ["lazy.cnn1d"]
    assert plugins["lazy"]["error"] is None
    assert {c["name"] for c in plugins["demo"]["clashes"]} == {"demo.cnn1d", "demo-signal"}
    assert plugins["core"]["clashes"] == []

    proc = run_process(["list"], lazy_plugin_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("demo-signal ")]
    assert "CLASH" in line and "pip uninstall sciconv-lazy" in line
    assert any(ln.startswith("bci-ssvep ") for ln in proc.stdout.splitlines())  # the others are listed as ever


def test_a_pipeline_with_a_clashing_name_refuses_to_run(lazy_plugin_env: dict[str, str], tmp_path: Path) -> None:
    proc = run_process(["run", "demo-signal", "--run-dir", str(tmp_path / "run")], lazy_plugin_env, tmp_path)
    assert proc.returncode == 1
    (line,) = error_lines(proc.stderr)
    assert "pipeline 'demo-signal' is registered by two plugins" in line
    assert "'lazy' (distribution sciconv-lazy 0.1)" in line and "'demo' (distribution sciconv " in line
    assert "`pip uninstall sciconv-lazy`" in line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "env"), [(["--strict-plugins", "list"], {}), (["list"], {STRICT_ENV: "1"})])
def test_a_clash_is_an_error_in_strict_mode(
    lazy_plugin_env: dict[str, str], tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    proc = run_process(args, {**lazy_plugin_env, **env}, tmp_path)
    assert proc.returncode == 1
    (line,) = error_lines(proc.stderr)
    assert "is registered by two plugins" in line and "pip uninstall sciconv-lazy" in line
    assert "strict plugin loading is on" in line
    assert proc.stdout == ""


class LazyPlugin:
    """In process: the demo plugin's model and pipeline names, and a model of its own."""

    @sciconv.hookimpl
    def register_models(self, register: Any) -> None:
        register("demo.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")
        register("lazy.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")

    @sciconv.hookimpl
    def register_pipelines(self, register: Any) -> None:
        register("demo-signal", "sciconv.pipelines:demo-signal.yaml")


@pytest.fixture
def lazy_registered() -> Iterator[None]:
    registry = get_registry()
    with pytest.warns(PluginWarning, match=r"pip uninstall sciconv-lazy"):
        registry.add_plugin(LazyPlugin(), PluginInfo(name="lazy", version="0.1", distribution="sciconv-lazy"))
    try:
        yield
    finally:
        registry.remove_plugin("lazy")


def test_only_pipelines_that_use_the_clashing_name_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lazy_registered: None
) -> None:
    source = get_registry().clash("pipelines", "demo-signal").claims[0].entry.load()
    config = parse_yaml(Path(source).read_text(encoding="utf-8"))
    clashing = tmp_path / "clashing.yaml"
    clashing.write_text(dump_yaml(config), encoding="utf-8")
    config["model"]["name"] = "lazy.cnn1d"
    fine = tmp_path / "fine.yaml"
    fine.write_text(dump_yaml(config), encoding="utf-8")

    code, out, err = run_main(capsys, ["validate", str(clashing)])
    assert code == 1
    (line,) = error_lines(err)
    assert "model 'demo.cnn1d' is registered by two plugins" in line
    assert "'demo' (distribution sciconv " in line
    assert "'lazy' (distribution sciconv-lazy 0.1)" in line and "`pip uninstall sciconv-lazy`" in line
    assert "valid pipeline" not in out

    code, out, err = run_main(capsys, ["validate", str(fine)])
    assert code == 0, err
    assert "valid pipeline 'fine'" in out

    code, out, err = run_main(capsys, ["list"])
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("demo-signal ")]
    assert "CLASH" in line
    code, out, _ = run_main(capsys, ["list", "--json"])
    row = next(r for r in json.loads(out) if r["name"] == "demo-signal")
    assert row["plugin"] is None and sorted(row["plugins"]) == ["demo", "lazy"]
    assert "pip uninstall sciconv-lazy" in row["clash"]


# --- a reader that closes the pipe ------------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
@pytest.mark.parametrize("args", [["list"], ["plugins"], ["plugins", "--json"], ["--help"]])
def test_a_closed_stdout_is_a_quiet_exit(tmp_path: Path, args: list[str], unbuffered: bool) -> None:
    """``pipeline list | head -1``: the reader is gone before the command writes (deterministically: the
    pipe's read end is closed before the process starts)."""
    proc = _run_into_a_closed_pipe(args, unbuffered, tmp_path)
    assert proc.stderr == ""  # no "error: BrokenPipeError", no "Exception ignored", no traceback
    if args == ["--help"] and unbuffered:
        assert proc.returncode == 0  # argparse itself ignores a failed write of the help
    else:
        assert proc.returncode == 141  # 128 + SIGPIPE, as a shell reports a tool that SIGPIPE ends


def _run_into_a_closed_pipe(args: list[str], unbuffered: bool, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = process_env()
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sciconv", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    return proc


def test_head_reads_the_first_line_of_list(tmp_path: Path) -> None:
    pipeline = Path(sys.executable).with_name("pipeline")
    command = f"'{pipeline}' list | head -1" if pipeline.exists() else f"'{sys.executable}' -m sciconv list | head -1"
    proc = subprocess.run(
        command, shell=True, cwd=tmp_path, env=process_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1
    assert "error" not in proc.stderr and "Exception" not in proc.stderr


# --- --debug ----------------------------------------------------------------------------------------


def test_debug_prints_the_traceback_without_the_hint_to_use_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: Any) -> int:
        raise ValueError("a bug in a command")

    monkeypatch.setattr(cli, "cmd_list", broken)
    code, _, err = run_main(capsys, ["--debug", "list"])
    assert code == 1
    assert "Traceback" in err and "ValueError: a bug in a command" in err
    assert error_lines(err) == ["error: ValueError: a bug in a command"]
    assert "run with --debug" not in err
    code, _, err = run_main(capsys, ["list"])
    assert code == 1
    assert error_lines(err) == ["error: ValueError: a bug in a command (run with --debug for the traceback)"]
    assert "Traceback" not in err


# --- show is light ----------------------------------------------------------------------------------

HEAVY = ("torch", "numpy", "scipy", "matplotlib", "safetensors", "sciconv_demo.datasets", "sciconv_demo.models")

SHOW_PROBE = """
import sys
from sciconv.cli import main
code = main({argv!r})
print("LOADED:" + ",".join(m for m in {heavy!r} if m in sys.modules))
sys.exit(code)
"""


def test_show_imports_no_component_module(tmp_path: Path) -> None:
    code = SHOW_PROBE.format(argv=["show", "demo-signal", "model.params.n_filters=8"], heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=process_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    *shown, loaded = proc.stdout.strip().splitlines()
    assert loaded == "LOADED:", f"show imported {loaded}"
    config = parse_yaml("\n".join(shown))
    assert config["model"] == {"name": "demo.cnn1d", "params": {"n_filters": 8, "n_blocks": 3}}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.name=demo.cnn", ["model.name", "'demo.cnn'", "demo.cnn1d"]),
        ("dataset.name=demo.oscilations", ["dataset.name", "did you mean 'demo.oscillations'"]),
        ("conv.backend=torh", ["conv.backend", "did you mean 'torch'"]),
    ],
)
def test_show_still_checks_the_component_names(
    capsys: pytest.CaptureFixture[str], override: str, expected: list[str]
) -> None:
    code, out, err = run_main(capsys, ["show", "demo-signal", override])
    assert code == 2
    assert out == ""
    (line,) = error_lines(err)
    for part in expected:
        assert part in line


class ModelOnlyPlugin:
    @sciconv.hookimpl
    def register_models(self, register: Any) -> None:
        register("demo.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")


def test_show_refuses_a_clashing_component_name(capsys: pytest.CaptureFixture[str]) -> None:
    registry = get_registry()
    with pytest.warns(PluginWarning):
        registry.add_plugin(ModelOnlyPlugin(), PluginInfo(name="lazy", version="0.1", distribution="sciconv-lazy"))
    try:
        code, out, err = run_main(capsys, ["show", "demo-signal"])
    finally:
        registry.remove_plugin("lazy")
    assert code == 1
    assert out == ""
    (line,) = error_lines(err)
    assert "model 'demo.cnn1d' is registered by two plugins" in line and "pip uninstall sciconv-lazy" in line
