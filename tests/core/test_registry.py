"""The plugin registry: lazy references, name rules, failing plugins, duplicates and strict mode."""

from __future__ import annotations

import importlib.metadata
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sciconv
import sciconv.registry as registry_module
from sciconv.errors import NotFoundError, PluginError
from sciconv.registry import (
    STRICT_ENV,
    DeprecatedNameWarning,
    PluginInfo,
    PluginWarning,
    Registry,
    extra_plugin,
    get_registry,
    reset_registry,
    set_strict,
    strict_from_env,
)


@pytest.fixture(autouse=True)
def clean_global_registry(monkeypatch) -> Iterator[None]:
    """Every test starts and ends with a lenient, not-yet-built global registry."""
    monkeypatch.delenv(STRICT_ENV, raising=False)
    set_strict(None)
    yield
    set_strict(None)
    reset_registry()


def make_plugin(**hooks: list[tuple[str, Any]]) -> Any:
    """A plugin object whose ``register_<kind>`` hooks register the given (name, ref) pairs."""

    class Plugin:
        pass

    for kind, items in hooks.items():

        def hook(register: Any, _items: list[tuple[str, Any]] = items) -> None:
            for name, ref in _items:
                register(name, ref)

        hook.__name__ = f"register_{kind}"
        setattr(Plugin, f"register_{kind}", staticmethod(sciconv.hookimpl(hook)))
    return Plugin()


def add(registry: Registry, plugin: Any, name: str, distribution: str | None = None) -> PluginInfo:
    info = PluginInfo(name=name, distribution=distribution)
    registry.add_plugin(plugin, info)
    return info


def snapshot(registry: Registry) -> tuple[Any, ...]:
    return (
        dict(registry.plugins),
        {kind: dict(entries) for kind, entries in registry.entries.items()},
        sorted(name for name, _ in registry.pm.list_name_plugin()),
    )


# --- registration and lazy references -----------------------------------------------------------


class ModelPlugin:
    @sciconv.hookimpl
    def register_models(self, register: Any) -> None:
        register("tp.model", "no_such_module_for_sciconv_tests:Model")

    @sciconv.hookimpl
    def register_datasets(self, register: Any) -> None:
        register("tp.data", "no_such_module_for_sciconv_tests.sub:make_data")


def test_lazy_reference_is_not_imported_at_registration() -> None:
    registry = Registry()
    info = add(registry, ModelPlugin(), "tp")
    assert info.error is None
    assert sorted(info.hooks) == ["register_datasets", "register_models"]
    assert registry.names("models") == ["tp.model"]
    entry = registry.entry("models", "tp.model")
    assert (entry.kind, entry.name, entry.plugin) == ("models", "tp.model", "tp")
    assert entry.ref == "no_such_module_for_sciconv_tests:Model"
    assert "no_such_module_for_sciconv_tests" not in sys.modules


def test_loading_a_broken_reference_names_plugin_and_reference() -> None:
    registry = Registry()
    add(registry, ModelPlugin(), "tp")
    with pytest.raises(PluginError) as info:
        registry.load("models", "tp.model")
    message = str(info.value)
    assert "'tp.model'" in message
    assert "plugin 'tp'" in message
    assert "'no_such_module_for_sciconv_tests:Model'" in message
    assert "ModuleNotFoundError" in message


def test_lazy_reference_is_imported_on_first_load(tmp_path, monkeypatch) -> None:
    module = "sciconv_test_lazy_mod_7f3a"
    (tmp_path / f"{module}.py").write_text("class Outer:\n    class Inner:\n        value = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    registry = Registry()
    plugin = make_plugin(models=[("lz.inner", f"{module}:Outer.Inner"), ("lz.missing", f"{module}:Nope")])
    add(registry, plugin, "lz")
    assert module not in sys.modules
    assert registry.load("models", "lz.inner").value == 42
    assert module in sys.modules
    with pytest.raises(PluginError, match=r"model 'lz.missing' of plugin 'lz'.*AttributeError"):
        registry.load("models", "lz.missing")


def test_object_registered_directly_is_returned_as_is() -> None:
    def factory(spec: Any) -> None:
        return None

    registry = Registry()
    add(registry, make_plugin(models=[("obj.factory", factory)]), "obj")
    assert registry.load("models", "obj.factory") is factory


def test_pipeline_reference_resolves_to_a_file(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("description: x\n")
    registry = Registry()
    plugin = make_plugin(
        pipelines=[
            ("by-path", path),
            ("no-file", tmp_path / "missing.yaml"),
            ("no-pkg", "no_such_pkg_xyz:p.yaml"),
        ]
    )
    add(registry, plugin, "pp")
    assert registry.load("pipelines", "by-path") == path
    with pytest.raises(PluginError, match=r"pipeline 'no-file' of plugin 'pp'.*does not exist"):
        registry.load("pipelines", "no-file")
    with pytest.raises(PluginError, match=r"pipeline 'no-pkg' of plugin 'pp'.*'no_such_pkg_xyz' not found"):
        registry.load("pipelines", "no-pkg")


def test_same_name_in_different_kinds_is_allowed() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("ns.x", "m:a")], datasets=[("ns.x", "m:b")]), "ns")
    assert registry.entry("models", "ns.x").ref == "m:a"
    assert registry.entry("datasets", "ns.x").ref == "m:b"


# --- invalid contributions and failing plugins ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("models", "nonamespace"),
        ("models", "Upper.case"),
        ("datasets", "a..b"),
        ("datasets", ".a"),
        ("tasks", "ns.with space"),
        ("tasks", 42),
        ("pipelines", "Bad-Name"),
        ("pipelines", "dotted.name"),
        ("conv_backends", "fft/x"),
    ],
)
def test_invalid_name_skips_the_plugin_with_a_warning(kind: str, name: Any) -> None:
    good = ("ok.fine", "m:a") if kind not in ("pipelines", "conv_backends") else ("fine", "m:a")
    registry = Registry()
    plugin = make_plugin(**{kind: [good, (name, "m:a")]})
    with pytest.warns(PluginWarning) as record:
        info = add(registry, plugin, "badname")
    assert len(record) == 1
    message = str(record[0].message)
    assert "plugin 'badname'" in message
    assert repr(name) in message
    assert info.error is not None and repr(name) in info.error
    assert registry.plugins["badname"].error == info.error
    assert registry.plugins["badname"].hooks == []
    assert all(not entries for entries in registry.entries.values())  # the good name is not kept either
    assert registry.pm.get_plugin("badname") is None


def test_invalid_name_is_an_error_in_strict_mode() -> None:
    registry = Registry(strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PluginError) as info:
            add(registry, make_plugin(models=[("nonamespace", "m:a")]), "badname")
    assert "'badname'" in str(info.value)
    assert "'nonamespace'" in str(info.value)
    assert registry.entries["models"] == {}
    assert registry.pm.get_plugin("badname") is None


def test_reference_without_attribute_skips_the_plugin() -> None:
    registry = Registry()
    with pytest.warns(PluginWarning, match=r"'module:attribute'"):
        info = add(registry, make_plugin(models=[("ns.m", "just_a_module")]), "noattr")
    assert info.error is not None
    assert registry.entries["models"] == {}


class RaisingPlugin:
    @sciconv.hookimpl
    def register_datasets(self, register: Any) -> None:
        register("rp.data", "m:d")

    @sciconv.hookimpl
    def register_models(self, register: Any) -> None:
        raise RuntimeError("kaboom in the hook")


def test_hook_that_raises_is_warned_and_skipped() -> None:
    registry = Registry()
    with pytest.warns(PluginWarning) as record:
        info = add(registry, RaisingPlugin(), "raiser")
    message = str(record[0].message)
    assert "plugin 'raiser' was skipped" in message
    assert "register_models" in message
    assert "RuntimeError: kaboom in the hook" in message
    assert "kaboom" in (info.error or "")
    assert registry.entries["datasets"] == {}  # nothing of a failed plugin is kept
    assert registry.pm.get_plugin("raiser") is None
    # the registry stays usable: another plugin still registers
    add(registry, make_plugin(models=[("ok.m", "m:a")]), "ok")
    assert registry.names("models") == ["ok.m"]


def test_hook_that_raises_is_an_error_in_strict_mode() -> None:
    registry = Registry(strict=True)
    with pytest.raises(PluginError, match=r"'raiser'.*kaboom"):
        add(registry, RaisingPlugin(), "raiser")
    assert registry.entries["datasets"] == {}
    assert registry.pm.get_plugin("raiser") is None


def test_hookimpl_with_a_wrong_signature_is_skipped() -> None:
    class WrongSignature:
        @sciconv.hookimpl
        def register_models(self, reg: Any) -> None:  # the hook argument is `register`
            reg("ws.m", "m:a")

    registry = Registry()
    with pytest.warns(PluginWarning, match=r"plugin 'ws' was skipped"):
        info = add(registry, WrongSignature(), "ws")
    assert info.error is not None
    assert registry.entries["models"] == {}


def test_failed_plugin_can_be_replaced_by_a_working_one() -> None:
    registry = Registry()
    with pytest.warns(PluginWarning):
        add(registry, RaisingPlugin(), "p")
    add(registry, make_plugin(models=[("p.m", "m:a")]), "p")
    assert registry.plugins["p"].error is None
    assert registry.names("models") == ["p.m"]


# --- duplicates -----------------------------------------------------------------------------------


def test_same_name_from_two_plugins_blocks_only_that_name() -> None:
    """A clash does not break the registry: the clashing name resolves to neither plugin (an error naming
    both, their distributions and the pip uninstall), everything else of both plugins registers."""
    registry = Registry()
    add(registry, make_plugin(models=[("shared.model", "a:M"), ("alpha.model", "a:N")]), "alpha", "sciconv-alpha")
    second = make_plugin(datasets=[("beta.data", "b:D")], models=[("shared.model", "b:M")])
    with pytest.warns(PluginWarning) as record:
        info = add(registry, second, "beta", "sciconv-beta")
    assert len(record) == 1  # one warning for the plugin, at load
    warning = str(record[0].message)
    assert "'beta'" in warning and "'alpha'" in warning and "model 'shared.model'" in warning
    assert "pip uninstall" in warning
    assert info.error is None
    assert registry.names("datasets") == ["beta.data"]
    assert registry.names("models") == ["alpha.model"]
    with pytest.raises(PluginError) as err:
        registry.entry("models", "shared.model")
    message = str(err.value)
    assert "model 'shared.model' is registered by two plugins" in message
    assert "'alpha' (distribution sciconv-alpha)" in message
    assert "'beta' (distribution sciconv-beta)" in message
    assert "`pip uninstall sciconv-alpha` or `pip uninstall sciconv-beta`" in message
    assert "\n" not in message
    with pytest.raises(PluginError, match=r"'shared.model' is registered by two plugins"):
        registry.load("models", "shared.model")
    (clash,) = registry.clashes
    assert (clash.kind, clash.name, clash.plugins) == ("models", "shared.model", ("alpha", "beta"))
    assert clash.distributions == ("sciconv-alpha", "sciconv-beta")
    assert clash.to_dict()["uninstall"] == ["pip uninstall sciconv-alpha", "pip uninstall sciconv-beta"]
    assert registry.clashes_of("alpha") == registry.clashes_of("beta") == [clash]
    # removing either plugin resolves the clash: the other one's entry is used again
    registry.remove_plugin("beta")
    assert registry.clashes == []
    assert registry.entry("models", "shared.model").plugin == "alpha"
    assert registry.names("datasets") == []


def test_the_framework_distribution_is_not_offered_for_uninstall() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("demo.cnn1d", "a:M")]), "demo", "sciconv")
    with pytest.warns(PluginWarning, match=r"pip uninstall sciconv-lazy"):
        add(registry, make_plugin(models=[("demo.cnn1d", "b:M")]), "lazy", "sciconv-lazy")
    with pytest.raises(PluginError) as err:
        registry.entry("models", "demo.cnn1d")
    message = str(err.value)
    assert "'demo' (distribution sciconv) and 'lazy' (distribution sciconv-lazy)" in message
    assert message.endswith("uninstall one of them: `pip uninstall sciconv-lazy`")


def test_a_clash_of_in_process_plugins_says_so() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("x.m", "a:M")]), "one")
    with pytest.warns(PluginWarning):
        add(registry, make_plugin(models=[("x.m", "b:M")]), "two")
    with pytest.raises(PluginError) as err:
        registry.entry("models", "x.m")
    message = str(err.value)
    assert "'one' (not installed from a distribution) and 'two' (not installed from a distribution)" in message
    assert "pip uninstall" not in message
    assert "remove or rename it in one of them" in message


def test_a_third_plugin_joins_the_clash() -> None:
    registry = Registry()
    add(registry, make_plugin(tasks=[("x.t", "a:T")]), "one", "d-one")
    for name in ("two", "three"):
        with pytest.warns(PluginWarning):
            add(registry, make_plugin(tasks=[("x.t", "b:T")]), name, f"d-{name}")
    (clash,) = registry.clashes
    assert clash.plugins == ("one", "two", "three")
    with pytest.raises(PluginError, match=r"task 'x.t' is registered by 3 plugins: 'one' .*, 'two' .* and 'three'"):
        registry.entry("tasks", "x.t")
    registry.remove_plugin("two")
    assert registry.clashes[0].plugins == ("one", "three")
    registry.remove_plugin("one")
    assert registry.clashes == []
    assert registry.entry("tasks", "x.t").plugin == "three"


def test_same_name_from_two_plugins_is_an_error_in_strict_mode() -> None:
    registry = Registry(strict=True)
    add(registry, make_plugin(models=[("shared.model", "a:M")]), "alpha", "sciconv-alpha")
    before = snapshot(registry)
    second = make_plugin(datasets=[("beta.data", "b:D")], models=[("shared.model", "b:M")])
    with pytest.raises(PluginError) as info:
        add(registry, second, "beta", "sciconv-beta")
    message = str(info.value)
    assert "model 'shared.model' is registered by two plugins" in message
    assert "'alpha' (distribution sciconv-alpha)" in message and "'beta' (distribution sciconv-beta)" in message
    assert "pip uninstall" in message and "strict plugin loading is on" in message
    assert snapshot(registry) == before  # nothing of 'beta' was kept
    assert registry.clashes == []
    assert registry.entry("models", "shared.model").plugin == "alpha"
    # 'beta' is fully gone: it can be registered again once it no longer clashes
    add(registry, make_plugin(datasets=[("beta.data", "b:D")]), "beta")
    assert registry.names("datasets") == ["beta.data"]


def test_a_clashing_plugin_on_the_global_registry_is_undone_on_exit() -> None:
    registry = get_registry()
    demo_model = registry.entry("models", "demo.cnn1d")
    with (
        pytest.warns(PluginWarning, match=r"'demo'"),
        extra_plugin(make_plugin(models=[("demo.cnn1d", "x:M")]), "clasher"),
    ):
        with pytest.raises(PluginError, match=r"'demo'.*'clasher'"):
            get_registry().entry("models", "demo.cnn1d")
        assert "demo-signal" in get_registry().names("pipelines")  # everything else still works
    assert get_registry().entry("models", "demo.cnn1d") == demo_model
    assert get_registry().clashes == []


@pytest.mark.parametrize("strict", [False, True])
def test_same_name_twice_from_one_plugin_skips_the_plugin(strict: bool) -> None:
    registry = Registry(strict=strict)
    plugin = make_plugin(models=[("twice.m", "a:M"), ("twice.m", "a:N")])
    if strict:
        with pytest.raises(PluginError, match=r"plugin 'twice' failed to load: model 'twice.m' is registered twice"):
            add(registry, plugin, "twice")
    else:
        with pytest.warns(PluginWarning, match=r"plugin 'twice' was skipped: model 'twice.m' is registered twice"):
            info = add(registry, plugin, "twice")
        assert info.error is not None and "'twice.m'" in info.error
    assert registry.entries["models"] == {}
    assert registry.pm.get_plugin("twice") is None


def test_two_plugins_with_the_same_plugin_name_is_an_error() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("a.m", "a:M")]), "same")
    with pytest.raises(PluginError, match=r"two plugins are named 'same'"):
        add(registry, make_plugin(models=[("b.m", "b:M")]), "same")
    assert registry.names("models") == ["a.m"]


# --- lookup and removal ---------------------------------------------------------------------------


def test_unknown_name_suggests_close_names() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("demo.cnn1d", "a:M"), ("demo.cnn2d", "a:N")]), "d")
    with pytest.raises(NotFoundError) as info:
        registry.entry("models", "demo.cnn1")
    assert str(info.value).startswith("unknown model 'demo.cnn1'; did you mean 'demo.cnn1d'")
    with pytest.raises(NotFoundError, match=r"registered: demo.cnn1d, demo.cnn2d"):
        registry.load("models", "zzz.qqq")
    with pytest.raises(NotFoundError, match=r"unknown dataset 'x.y' \(none are registered\)"):
        registry.entry("datasets", "x.y")


def test_remove_plugin_removes_its_names() -> None:
    registry = Registry()
    add(registry, make_plugin(models=[("keep.m", "a:M")]), "keep")
    add(registry, make_plugin(models=[("gone.m", "b:M")], pipelines=[("gone-pipe", Path("x.yaml"))]), "gone")
    registry.remove_plugin("gone")
    assert registry.names("models") == ["keep.m"]
    assert registry.names("pipelines") == []
    assert "gone" not in registry.plugins
    assert registry.pm.get_plugin("gone") is None
    with pytest.raises(NotFoundError):
        registry.entry("models", "gone.m")
    add(registry, make_plugin(models=[("gone.m", "c:M")]), "other")  # the name is free again
    registry.remove_plugin("never-registered")  # a no-op


def test_extra_plugin_on_the_global_registry() -> None:
    plugin = make_plugin(models=[("extra.model", "x:M")], pipelines=[("extra-pipe", Path("e.yaml"))])
    with extra_plugin(plugin, "extra", version="9.9") as registry:
        assert registry is get_registry()
        assert registry.entry("models", "extra.model").plugin == "extra"
        assert registry.plugins["extra"].version == "9.9"
        assert {"core", "demo", "extra"} <= set(registry.plugins)
    assert "extra" not in get_registry().plugins
    assert "extra.model" not in get_registry().names("models")
    assert "extra-pipe" not in get_registry().names("pipelines")


def test_extra_plugin_is_removed_when_the_block_raises() -> None:
    with pytest.raises(KeyError), extra_plugin(make_plugin(models=[("boom.m", "x:M")]), "boom"):
        raise KeyError("inside")
    assert "boom" not in get_registry().plugins


def test_real_entry_points_register_core_and_demo() -> None:
    registry = get_registry()
    assert registry.plugins["core"].error is None
    assert registry.plugins["demo"].error is None
    assert registry.plugins["demo"].module == "sciconv_demo.plugin"
    assert registry.entry("pipelines", "demo-signal").plugin == "demo"
    assert registry.entry("datasets", "demo.oscillations").plugin == "demo"
    assert registry.entry("models", "demo.cnn1d").plugin == "demo"
    assert registry.entry("tasks", "demo.classify").plugin == "demo"
    assert registry.entry("conv_backends", "torch").plugin == "core"
    assert registry.load("pipelines", "demo-signal").is_file()
    assert get_registry() is registry  # cached


# --- entry points, broken plugins and strict mode ---------------------------------------------------


class FakeDist:
    name = "fake-dist"
    version = "1.2.3"


class FakeEntryPoint:
    def __init__(self, name: str, value: str, obj: Any = None, error: BaseException | None = None) -> None:
        self.name, self.value, self.group, self.dist = name, value, "sciconv", FakeDist()
        self._obj, self._error = obj, error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._obj


@pytest.fixture
def broken_entry_points(monkeypatch) -> list[FakeEntryPoint]:
    points = [
        FakeEntryPoint("broken", "broken_mod", error=ImportError("No module named 'heavy_dependency'")),
        FakeEntryPoint("good", "good_mod", obj=make_plugin(models=[("good.m", "good_mod.models:M")])),
    ]
    groups: list[str | None] = []

    def entry_points(**params: Any) -> list[FakeEntryPoint]:
        groups.append(params.get("group"))
        return points

    monkeypatch.setattr(registry_module.importlib.metadata, "entry_points", entry_points)
    assert importlib.metadata.entry_points is entry_points
    yield points
    assert set(groups) == {"sciconv"}


def test_broken_entry_point_is_warned_and_recorded(broken_entry_points) -> None:
    registry = Registry()
    with pytest.warns(PluginWarning) as record:
        registry.load_entry_points()
    assert len(record) == 1
    message = str(record[0].message)
    assert "plugin 'broken' was skipped" in message
    assert "'broken_mod'" in message
    assert "ImportError: No module named 'heavy_dependency'" in message
    info = registry.plugins["broken"]
    assert info.error is not None and "heavy_dependency" in info.error
    assert (info.version, info.distribution, info.module, info.hooks) == (
        "1.2.3",
        "fake-dist",
        "broken_mod",
        [],
    )
    assert info.to_dict()["error"] == info.error
    # the good plugin still loads
    assert registry.plugins["good"].error is None
    assert registry.names("models") == ["good.m"]


def test_entry_point_listed_twice_is_loaded_once(monkeypatch) -> None:
    plugin = make_plugin(models=[("twice.m", "t:M")])
    points = [FakeEntryPoint("twice", "t", obj=plugin), FakeEntryPoint("twice", "t", obj=plugin)]
    monkeypatch.setattr(registry_module.importlib.metadata, "entry_points", lambda **_: points)
    registry = Registry()
    registry.load_entry_points()
    assert registry.names("models") == ["twice.m"]


def test_global_registry_warns_about_a_broken_entry_point(broken_entry_points) -> None:
    with pytest.warns(PluginWarning, match="broken"):
        registry = get_registry()
    assert registry.plugins["broken"].error is not None
    assert registry.names("models") == ["good.m"]


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_strict_mode_from_the_environment(broken_entry_points, monkeypatch, value: str) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    assert strict_from_env()
    set_strict(None)
    with pytest.raises(PluginError) as info:
        get_registry()
    assert "'broken'" in str(info.value)
    assert "heavy_dependency" in str(info.value)
    with pytest.raises(PluginError):  # a failed build is not cached as a half-loaded registry
        get_registry()


@pytest.mark.parametrize("value", ["0", "", "false", "no"])
def test_lenient_mode_from_the_environment(broken_entry_points, monkeypatch, value: str) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    assert not strict_from_env()
    set_strict(None)
    with pytest.warns(PluginWarning):
        assert get_registry().strict is False


def test_set_strict_overrides_the_environment(broken_entry_points, monkeypatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "0")
    set_strict(True)
    with pytest.raises(PluginError, match="broken"):
        get_registry()
    monkeypatch.setenv(STRICT_ENV, "1")
    set_strict(False)
    with pytest.warns(PluginWarning):
        assert get_registry().strict is False
    set_strict(None)
    with pytest.raises(PluginError):
        get_registry()


def test_set_strict_drops_the_cached_registry() -> None:
    first = get_registry()
    set_strict(False)
    assert get_registry() is not first


# --- naming rule and deprecated aliases -----------------------------------------------------------


def make_alias_plugin(kind: str, *items: tuple[str, Any, tuple[str, ...]]) -> Any:
    """A plugin registering ``(name, ref, aliases)`` items of one kind."""

    def hook(register: Any) -> None:
        for name, ref, aliases in items:
            register(name, ref, aliases=aliases)

    hook.__name__ = f"register_{kind}"
    return type("AliasPlugin", (), {hook.__name__: staticmethod(sciconv.hookimpl(hook))})()


def test_an_alias_gives_the_new_entry_with_a_deprecation_warning() -> None:
    registry = Registry()
    add(registry, make_alias_plugin("models", ("medseg.swin-unetr", "m:Swin", ("medseg.swin_unetr",))), "med")
    entry = registry.entry("models", "medseg.swin-unetr")
    assert entry.aliases == ("medseg.swin_unetr",)
    with pytest.warns(DeprecatedNameWarning) as record:
        assert registry.entry("models", "medseg.swin_unetr") is entry
    assert issubclass(DeprecatedNameWarning, FutureWarning)  # shown to users by default
    assert str(record[0].message) == (
        "model 'medseg.swin_unetr' is deprecated; use 'medseg.swin-unetr' "
        "(the old name will be removed in the next release)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.entry("models", "medseg.swin-unetr") is entry  # the new name does not warn
        assert registry.canonical_name("models", "medseg.swin_unetr") == "medseg.swin-unetr"
        assert registry.canonical_name("models", "medseg.swin-unetr") == "medseg.swin-unetr"
        assert registry.canonical_name("models", "not.registered") == "not.registered"
    assert registry.names("models") == ["medseg.swin-unetr"]  # aliases are not listed


def test_load_through_an_alias(tmp_path) -> None:
    def factory(spec: Any) -> None:
        return None

    path = tmp_path / "p.yaml"
    path.write_text("description: x\n")
    registry = Registry()
    add(registry, make_alias_plugin("models", ("al.new-model", factory, ("al.old_model", "al.older"))), "al")
    add(registry, make_alias_plugin("pipelines", ("new-pipe", path, ("old_pipe",))), "alp")
    with pytest.warns(DeprecatedNameWarning, match=r"'al.older' is deprecated; use 'al.new-model'"):
        assert registry.load("models", "al.older") is factory
    with pytest.warns(DeprecatedNameWarning, match=r"pipeline 'old_pipe' is deprecated; use 'new-pipe'"):
        assert registry.load("pipelines", "old_pipe") == path
    assert registry.names("pipelines") == ["new-pipe"]


ALIAS_CLASHES = [
    # (alpha's registration, beta's registration, the name they both claim, names that still resolve)
    # the same alias claimed twice
    (("a.new", "a:M", ("x.old",)), ("b.new", "b:M", ("x.old",)), "x.old", ["a.new", "b.new"]),
    # an alias equal to a registered name, in either order
    (("a.new", "a:M", ()), ("b.new", "b:M", ("a.new",)), "a.new", ["b.new"]),
    (("a.new", "a:M", ("b.new",)), ("b.new", "b:M", ()), "b.new", ["a.new"]),
]


@pytest.mark.parametrize(("first", "second", "key", "usable"), ALIAS_CLASHES)
def test_a_clashing_alias_blocks_that_name_only(first: Any, second: Any, key: str, usable: list[str]) -> None:
    registry = Registry()
    add(registry, make_alias_plugin("models", first), "alpha")
    with pytest.warns(PluginWarning, match=rf"model '{key}'"):
        add(registry, make_alias_plugin("models", second), "beta")
    with pytest.raises(PluginError) as info:
        registry.entry("models", key)
    message = str(info.value)
    assert f"model '{key}' is registered by two plugins" in message
    assert "'alpha'" in message and "'beta'" in message
    assert "as an alias of" in message
    assert registry.names("models") == usable
    for name in usable:
        assert registry.entry("models", name).name == name


@pytest.mark.parametrize(("first", "second", "key", "usable"), ALIAS_CLASHES)
def test_a_clashing_alias_is_an_error_in_strict_mode(first: Any, second: Any, key: str, usable: list[str]) -> None:
    registry = Registry(strict=True)
    add(registry, make_alias_plugin("models", first), "alpha")
    before = snapshot(registry)
    aliases_before = {kind: dict(aliases) for kind, aliases in registry.aliases.items()}
    with pytest.raises(PluginError) as info:
        add(registry, make_alias_plugin("models", second), "beta")
    message = str(info.value)
    assert f"model '{key}' is registered by two plugins" in message
    assert "'alpha'" in message and "'beta'" in message
    assert "as an alias of" in message
    assert snapshot(registry) == before  # nothing of 'beta' was kept
    assert registry.aliases == aliases_before


def test_the_alias_of_a_clashing_name_names_the_clash() -> None:
    registry = Registry()
    add(registry, make_alias_plugin("models", ("a.new", "a:M", ("a.old",))), "alpha")
    with pytest.warns(PluginWarning):
        add(registry, make_alias_plugin("models", ("a.new", "b:M", ())), "beta")
    with pytest.raises(PluginError, match=r"model 'a.new' is registered by two plugins"):
        registry.entry("models", "a.old")


@pytest.mark.parametrize("strict", [False, True])
def test_an_alias_clash_within_one_plugin_skips_the_plugin(strict: bool) -> None:
    registry = Registry(strict=strict)
    plugin = make_alias_plugin("models", ("one.a", "m:A", ("one.old",)), ("one.b", "m:B", ("one.old",)))
    if strict:
        with pytest.raises(PluginError, match=r"'one.old' is registered twice \(as an alias of 'one.a'"):
            add(registry, plugin, "one")
    else:
        with pytest.warns(PluginWarning, match=r"plugin 'one' was skipped: model 'one.old' is registered twice"):
            add(registry, plugin, "one")
    assert registry.entries["models"] == {} and registry.aliases["models"] == {}


@pytest.mark.parametrize(
    "aliases",
    [
        "al.old",  # a string, not a tuple of names
        ("al.new",),  # the name itself
        ("Bad Alias",),
        ("al.old", "al.old"),
    ],
)
def test_invalid_aliases_skip_the_plugin(aliases: Any) -> None:
    registry = Registry()
    with pytest.warns(PluginWarning, match=r"plugin 'al' was skipped.*alias"):
        info = add(registry, make_alias_plugin("models", ("al.new", "m:A", aliases)), "al")
    assert info.error is not None
    assert registry.entries["models"] == {} and registry.aliases["models"] == {}


def test_removing_a_plugin_removes_its_aliases() -> None:
    registry = Registry()
    add(registry, make_alias_plugin("tasks", ("rm.new-task", "m:T", ("rm.old_task",))), "rm")
    registry.remove_plugin("rm")
    assert registry.aliases["tasks"] == {}
    with pytest.raises(NotFoundError):
        registry.entry("tasks", "rm.old_task")
    add(registry, make_alias_plugin("tasks", ("rm.old-task", "m:T", ("rm.old_task",))), "other")  # free again


@pytest.mark.parametrize("name", ["ns.kebab-case", "ns.cnn1d", "ns.sub.two-words", "a1.b2-c3"])
def test_kebab_case_names_register_without_a_warning(name: str) -> None:
    registry = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        add(registry, make_plugin(models=[(name, "m:A")]), "kebab")
    assert registry.names("models") == [name]


def test_an_underscore_name_is_registered_with_a_warning_for_now() -> None:
    registry = Registry()
    with pytest.warns(PluginWarning) as record:
        info = add(registry, make_plugin(models=[("ns.old_style", "m:A")]), "legacy")
    assert info.error is None and registry.names("models") == ["ns.old_style"]
    message = str(record[0].message)
    assert "plugin 'legacy'" in message and "'ns.old_style'" in message
    assert "register 'ns.old-style' with aliases=('ns.old_style',)" in message


@pytest.mark.parametrize("name", ["ns.a--b", "ns.-a", "ns.a-", "ns.Mixed-case"])
def test_other_kebab_case_violations_are_errors(name: str) -> None:
    registry = Registry()
    with pytest.warns(PluginWarning, match=r"was skipped.*kebab-case"):
        info = add(registry, make_plugin(models=[(name, "m:A")]), "bad")
    assert info.error is not None and registry.names("models") == []


def test_aliases_are_exempt_from_the_kebab_case_rule() -> None:
    registry = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        add(registry, make_alias_plugin("datasets", ("ex.new-data", "m:D", ("ex.old_data",))), "exempt")
    assert registry.names("datasets") == ["ex.new-data"]


class AliasedDemoPlugin:
    """The demo's model and task under new names, with made-up old names as aliases."""

    @sciconv.hookimpl
    def register_models(self, register: Any) -> None:
        register(
            "tp.renamed-cnn", registry_module.get_registry().entry("models", "demo.cnn1d").ref, aliases=("tp.cnn_old",)
        )

    @sciconv.hookimpl
    def register_tasks(self, register: Any) -> None:
        register(
            "tp.renamed-task",
            registry_module.get_registry().entry("tasks", "demo.classify").ref,
            aliases=("tp.task_old",),
        )


def test_a_run_configured_by_alias_saves_the_new_names(register_plugin, tmp_path) -> None:
    from sciconv.pipeline import load_pipeline, load_run

    register_plugin(AliasedDemoPlugin(), name="aliased-demo")
    overrides = {
        "model.name": "tp.cnn_old",
        "task.name": "tp.task_old",
        "train.epochs": 1,
        "dataset.params.n_trials": 60,
        "train.progress": False,
    }
    with pytest.warns(DeprecatedNameWarning) as record:
        pipe = load_pipeline("demo-signal", overrides)
    messages = {str(w.message) for w in record}
    assert any("'tp.cnn_old' is deprecated; use 'tp.renamed-cnn'" in m for m in messages)
    assert any("'tp.task_old' is deprecated; use 'tp.renamed-task'" in m for m in messages)
    resolved = pipe.resolved_config()
    assert (resolved["model"]["name"], resolved["task"]["name"]) == ("tp.renamed-cnn", "tp.renamed-task")
    assert pipe.config.model.name == "tp.cnn_old"  # the configuration itself is as given
    with pytest.warns(DeprecatedNameWarning):
        result = pipe.run(tmp_path / "run")
    saved = (result.run_dir / "config.yaml").read_text()
    assert "tp.renamed-cnn" in saved and "tp.cnn_old" not in saved
    assert "tp.renamed-task" in saved and "tp.task_old" not in saved
    # The saved configuration names no alias: it runs and resumes without a deprecation warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedNameWarning)
        again = load_pipeline(result.run_dir / "config.yaml")
        assert again.config.model.name == "tp.renamed-cnn"
        assert load_run(result.run_dir).config.task.name == "tp.renamed-task"
