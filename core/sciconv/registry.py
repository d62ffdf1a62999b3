"""Plugin discovery and the name registry.

Plugins are found through the ``sciconv`` entry-point group (first-party plugins too), registered
with pluggy, and asked for their contributions through the ``register_*`` hooks. Contributions are
stored as lazy references and imported on first use, so listing never imports torch or a plugin's
heavy dependencies.

A plugin that fails to import, or whose hook raises, is reported as a warning and skipped, unless
strict mode is on (``SCICONV_STRICT_PLUGINS=1`` or ``pipeline --strict-plugins``), where it is an
error. Two plugins registering the same name in the same kind is always an error naming both.

Datasets, models and tasks are named ``<namespace>.<kebab-case>`` (``medseg.swin-unetr``). A renamed
contribution keeps its old names as deprecated aliases, ``register("medseg.swin-unetr", ref,
aliases=("medseg.swin_unetr",))``: looking one up gives the new entry with a :class:`DeprecatedNameWarning`,
and the configuration saved with a run records the new name (:meth:`Registry.canonical_name`). Aliases are
not listed by :meth:`Registry.names`; one claimed twice, or equal to a registered name, is an error as a
duplicate name is.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from sciconv import hookspecs
from sciconv.errors import NotFoundError, PluginError, did_you_mean

ENTRY_POINT_GROUP = "sciconv"
STRICT_ENV = "SCICONV_STRICT_PLUGINS"

KINDS = ("datasets", "models", "tasks", "pipelines", "conv_backends")
_SINGULAR = {
    "datasets": "dataset",
    "models": "model",
    "tasks": "task",
    "pipelines": "pipeline",
    "conv_backends": "conv backend",
}
COMPONENT_KINDS = ("datasets", "models", "tasks")
# `<namespace>.<kebab-case>`: lower-case words of letters and digits joined by single '-', dotted namespaces.
_COMPONENT_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+$")
# The rule before kebab-case: still accepted, with a PluginWarning, when a name has '_'; and for aliases.
_LEGACY_COMPONENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
_SIMPLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class PluginWarning(UserWarning):
    """A plugin failed to load and was skipped, or registered a name that breaks the naming rule."""


class DeprecatedNameWarning(FutureWarning):
    """A dataset, model, task, pipeline or conv backend was looked up by a deprecated alias (a
    :class:`FutureWarning`, so that users see it by default)."""


def strict_from_env() -> bool:
    """Whether ``SCICONV_STRICT_PLUGINS`` asks for strict plugin loading."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def singular(kind: str) -> str:
    """``"datasets"`` -> ``"dataset"``."""
    return _SINGULAR[kind]


@dataclass(frozen=True)
class Entry:
    """One registered name: its reference and the plugin that registered it."""

    kind: str
    name: str
    ref: Any
    plugin: str
    aliases: tuple[str, ...] = ()
    tiny: Mapping[str, Any] | None = None
    """Pipelines only: overrides (dotted keys) that run the pipeline end to end in seconds, for
    :func:`sciconv.testing.check_plugin`."""

    def load(self) -> Any:
        """Import and return the referenced object (objects registered directly are returned as is)."""
        if self.kind == "pipelines":
            return resolve_pipeline_path(self.ref, self.name, self.plugin)
        if not isinstance(self.ref, str):
            return self.ref
        module_name, _, attr = self.ref.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
        except Exception as exc:
            raise PluginError(
                f"{singular(self.kind)} {self.name!r} of plugin {self.plugin!r}: cannot load {self.ref!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return obj


def resolve_pipeline_path(ref: Any, name: str, plugin: str) -> Path:
    """Turn a pipeline reference (``"package:file.yaml"`` or a path) into a file path."""
    if isinstance(ref, Path):
        path = ref
    elif isinstance(ref, str) and ":" in ref:
        package, _, resource = ref.partition(":")
        import importlib.resources

        try:
            path = Path(str(importlib.resources.files(package).joinpath(resource)))
        except ModuleNotFoundError as exc:
            raise PluginError(f"pipeline {name!r} of plugin {plugin!r}: package {package!r} not found") from exc
    else:
        path = Path(str(ref))
    if not path.is_file():
        raise PluginError(f"pipeline {name!r} of plugin {plugin!r}: file {path} does not exist")
    return path


@dataclass
class PluginInfo:
    """What ``pipeline plugins`` reports for one plugin."""

    name: str
    version: str | None = None
    distribution: str | None = None
    module: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "module": self.module,
            "hooks": sorted(self.hooks),
            "error": self.error,
        }


class Registry:
    """Every name contributed by the loaded plugins, by kind.

    Build it with :func:`get_registry` (entry points plus in-process plugins); tests register extra
    plugins with :func:`sciconv.testing.registered_plugin`.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.aliases: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}  # deprecated name -> its entry

    # -- loading -------------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every plugin of the ``sciconv`` entry-point group."""
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                version=getattr(dist, "version", None),
                distribution=getattr(dist, "name", None) if dist is not None else None,
                module=ep.value,
            )
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(info, f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(plugin, info)

    def add_plugin(self, plugin: Any, info: PluginInfo) -> None:
        """Register one plugin object (a module or class with ``@hookimpl`` functions) and collect
        its contributions."""
        if info.name in self.plugins and self.plugins[info.name].error is None:
            raise PluginError(f"two plugins are named {info.name!r}")
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:
            self._fail(info, f"invalid plugin: {type(exc).__name__}: {exc}")
            return
        self.plugins[info.name] = info
        staged: list[Entry] = []
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            impls = [i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if i.plugin is plugin]
            for impl in impls:
                info.hooks.append(hook_name)

                def register(
                    name: str,
                    ref: Any,
                    *,
                    aliases: Iterable[str] = (),
                    tiny: Mapping[str, Any] | None = None,
                    _kind: str = kind,
                ) -> None:
                    staged.append(self._make_entry(_kind, name, ref, info.name, aliases, tiny))

                try:
                    impl.function(register=register)
                except Exception as exc:
                    self.pm.unregister(plugin)
                    del self.plugins[info.name]
                    self._fail(info, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                    return
        # Every name and alias of a kind belongs to one entry: (kind, name) -> (entry, whether as an alias).
        claimed: dict[tuple[str, str], tuple[Entry, bool]] = {}
        for kind in KINDS:
            claimed.update(((kind, name), (entry, False)) for name, entry in self.entries[kind].items())
            claimed.update(((kind, alias), (entry, True)) for alias, entry in self.aliases[kind].items())
        for entry in staged:
            for key, as_alias in [(entry.name, False), *((alias, True) for alias in entry.aliases)]:
                prior = claimed.get((entry.kind, key))
                if prior is not None:
                    self.pm.unregister(plugin)
                    del self.plugins[info.name]
                    raise PluginError(
                        f"{singular(entry.kind)} {key!r} is registered by two plugins: "
                        f"{_claim(*prior)} and {_claim(entry, as_alias)}"
                    )
                claimed[(entry.kind, key)] = (entry, as_alias)
        for entry in staged:
            self.entries[entry.kind][entry.name] = entry
            for alias in entry.aliases:
                self.aliases[entry.kind][alias] = entry

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and every name it contributed."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.plugins.pop(name, None)
        for kind in KINDS:
            self.entries[kind] = {n: e for n, e in self.entries[kind].items() if e.plugin != name}
            self.aliases[kind] = {a: e for a, e in self.aliases[kind].items() if e.plugin != name}

    def _make_entry(
        self,
        kind: str,
        name: str,
        ref: Any,
        plugin: str,
        aliases: Iterable[str] = (),
        tiny: Mapping[str, Any] | None = None,
    ) -> Entry:
        components = kind in COMPONENT_KINDS
        form = (
            "a namespaced kebab-case name such as 'myplugin.my-model'"
            if components
            else "lower-case letters, digits, '-' and '_'"
        )
        if not isinstance(name, str) or not (_COMPONENT_NAME if components else _SIMPLE_NAME).match(name):
            if not (components and isinstance(name, str) and "_" in name and _LEGACY_COMPONENT_NAME.match(name)):
                raise PluginError(f"plugin {plugin!r} registered {singular(kind)} name {name!r}; expected {form}")
            # Accepted for now: the plugins are being renamed. The warning points at the plugin's register call.
            new = name.replace("_", "-")
            warnings.warn(
                f"plugin {plugin!r} registered {singular(kind)} name {name!r}; expected {form} ('_' will be an "
                f"error in the next release: register {new!r} with aliases=({name!r},))",
                PluginWarning,
                stacklevel=3,
            )
        if isinstance(ref, str) and kind != "pipelines" and ":" not in ref:
            raise PluginError(
                f"plugin {plugin!r} registered {singular(kind)} {name!r} with reference {ref!r}; "
                "expected 'module:attribute'"
            )
        if isinstance(aliases, str):
            raise PluginError(
                f"plugin {plugin!r} registered {singular(kind)} {name!r} with aliases={aliases!r}; "
                f"expected a tuple of names, e.g. aliases=({aliases!r},)"
            )
        alias_names = tuple(aliases)
        legacy = _LEGACY_COMPONENT_NAME if components else _SIMPLE_NAME  # aliases are old names: '_' allowed
        for alias in alias_names:
            if not isinstance(alias, str) or not legacy.match(alias) or alias == name:
                raise PluginError(
                    f"plugin {plugin!r} registered {singular(kind)} {name!r} with alias {alias!r}; expected an old "
                    f"name of it other than {name!r}"
                )
        if len(set(alias_names)) != len(alias_names):
            raise PluginError(f"plugin {plugin!r} registered {singular(kind)} {name!r} with a repeated alias")
        if tiny is not None and (kind != "pipelines" or not isinstance(tiny, Mapping)):
            raise PluginError(
                f"plugin {plugin!r} registered {singular(kind)} {name!r} with tiny={tiny!r}; only pipelines take "
                "tiny overrides, as a dict of dotted keys to values"
            )
        return Entry(kind=kind, name=name, ref=ref, plugin=plugin, aliases=alias_names, tiny=tiny)

    def _fail(self, info: PluginInfo, message: str) -> None:
        info.error = message
        info.hooks = []
        self.plugins[info.name] = info
        if self.strict:
            raise PluginError(
                f"plugin {info.name!r} failed to load: {message} (strict plugin loading is on: "
                f"--strict-plugins or {STRICT_ENV}=1)"
            )
        warnings.warn(f"plugin {info.name!r} was skipped: {message}", PluginWarning, stacklevel=3)

    # -- lookup --------------------------------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        """Sorted registered names of one kind (deprecated aliases are not listed)."""
        return sorted(self.entries[kind])

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for ``name``, or a :class:`NotFoundError` with suggestions. A deprecated alias gives
        its entry, with a :class:`DeprecatedNameWarning` naming the new name."""
        try:
            return self.entries[kind][name]
        except KeyError:
            target = self.aliases[kind].get(name)
            if target is not None:
                warnings.warn(
                    f"{singular(kind)} {name!r} is deprecated; use {target.name!r} "
                    "(the old name will be removed in the next release)",
                    DeprecatedNameWarning,
                    stacklevel=2,
                )
                return target
            known = self.names(kind)
            hint = did_you_mean(name, known)
            if not hint:
                hint = f" (registered: {', '.join(known)})" if known else " (none are registered)"
            raise NotFoundError(f"unknown {singular(kind)} {name!r}{hint}") from None

    def load(self, kind: str, name: str) -> Any:
        """Import and return the object registered as ``name`` (or as the deprecated alias ``name``)."""
        return self.entry(kind, name).load()

    def canonical_name(self, kind: str, name: str) -> str:
        """The current name for ``name``: the entry's name when ``name`` is a deprecated alias, else
        ``name`` itself (also when unknown). Warns about nothing; used for the configuration saved with a run."""
        target = self.aliases[kind].get(name)
        return target.name if target is not None and name not in self.entries[kind] else name


def _claim(entry: Entry, as_alias: bool) -> str:
    """``'plugin'``, or ``'plugin' (as an alias of 'name')``, for duplicate-name errors."""
    return f"{entry.plugin!r} (as an alias of {entry.name!r})" if as_alias else repr(entry.plugin)


_REGISTRY: Registry | None = None
_STRICT_OVERRIDE: bool | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use from the entry points."""
    global _REGISTRY
    if _REGISTRY is None:
        strict = strict_from_env() if _STRICT_OVERRIDE is None else _STRICT_OVERRIDE
        registry = Registry(strict=strict)
        registry.load_entry_points()
        _REGISTRY = registry
    return _REGISTRY


def set_strict(strict: bool | None) -> None:
    """Force strict (or lenient) plugin loading for this process; ``None`` follows the environment.
    Drops the cached registry so that the next :func:`get_registry` reloads."""
    global _STRICT_OVERRIDE
    _STRICT_OVERRIDE = strict
    reset_registry()


def reset_registry() -> None:
    """Forget the cached registry (the next :func:`get_registry` rediscovers the plugins)."""
    global _REGISTRY
    _REGISTRY = None


@contextmanager
def extra_plugin(plugin: Any, name: str, version: str | None = None) -> Iterator[Registry]:
    """Register an in-process plugin on the global registry for the duration of the block."""
    registry = get_registry()
    registry.add_plugin(plugin, PluginInfo(name=name, version=version, module=getattr(plugin, "__name__", None)))
    try:
        yield registry
    finally:
        registry.remove_plugin(name)
