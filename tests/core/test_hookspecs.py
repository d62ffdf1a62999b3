"""Every hook is documented (docstring and README) and works through a plugin, one test per hook."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch.nn.functional as F

from sciconv import hookimpl, hookspecs
from sciconv.registry import PluginInfo, Registry

REPO = Path(__file__).resolve().parents[2]

HOOKS = sorted(hookspecs.HOOK_KINDS)


def test_hook_list_matches_the_hookspec_module() -> None:
    declared = sorted(n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_"))
    assert declared == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "register(" in doc, f"{hook} needs a docstring showing its register call"
    assert hook in (REPO / "README.md").read_text(), f"{hook} is not described in the README"


def _plugin_for(hook: str, ref: object) -> object:
    def impl(register):
        register(NAMES[hook], ref)

    impl.__name__ = hook
    return type("OneHook", (), {hook: staticmethod(hookimpl(impl))})()


NAMES = {
    "register_datasets": "one.dataset",
    "register_models": "one.model",
    "register_tasks": "one.task",
    "register_pipelines": "one-pipeline",
    "register_conv_backends": "one-backend",
}


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_registers_lazily_and_loads(hook: str, tmp_path: Path) -> None:
    kind = hookspecs.HOOK_KINDS[hook]
    if kind == "pipelines":
        path = tmp_path / "p.yaml"
        path.write_text("task: {name: a.b}\ndataset: {name: a.b}\nmodel: {name: a.b}\n")
        ref, expected = path, path
    elif kind == "conv_backends":
        ref, expected = "torch.nn:functional", F
    else:
        ref, expected = "sciconv.spec:DataSpec", __import__("sciconv").DataSpec
    registry = Registry()
    registry.add_plugin(_plugin_for(hook, ref), PluginInfo(name="one"))
    assert registry.plugins["one"].hooks == [hook]
    assert registry.names(kind) == [NAMES[hook]]
    assert registry.load(kind, NAMES[hook]) is expected or registry.load(kind, NAMES[hook]) == expected
