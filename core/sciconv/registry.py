"""Plugin discovery and the name registry.

Plugins are found through the ``sciconv`` entry-point group (first-party plugins too), registered
with pluggy, and asked for their contributions through the ``register_*`` hooks. Contributions are
stored as lazy references and imported on first use, so listing never imports torch or a plugin's
heavy dependencies.

A plugin that fails to import, or whose hook raises, or that registers one name twice, is reported as a
warning and skipped, unless strict mode is on (``SCICONV_STRICT_PLUGINS=1`` or ``pipeline
--strict-plugins``), where it is an error.

Two plugins registering the same name in the same kind is a :class:`Clash`. In strict mode it is an error
at load, naming both plugins. Otherwise one installed plugin must not break every command, so the clash
is recorded (:attr:`Registry.clashes`, shown by ``pipeline plugins``) with one :class:`PluginWarning`,
everything else both plugins register is kept, and the clashing name resolves to neither of them: looking
it up raises a :class:`~sciconv.errors.PluginError` that names both plugins, their distributions and the
``pip uninstall`` that resolves it. So only the pipelines that use that name refuse to run.

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
FRAMEWORK_DISTRIBUTION = "sciconv"
"""The framework's own distribution (first-party plugins ship in it): never offered for ``pip uninstall``."""

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
    """A plugin failed to load and was skipped, registered a name that breaks the naming rule, or registered
    a name that another plugin registered too."""


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


def _normalized_distribution(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Sciconv_ECG`` -> ``sciconv-ecg``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Claim:
    """One plugin's claim on a name: the entry, whether the name is one of the entry's aliases, and the
    plugin's distribution (``None`` for a plugin registered in process)."""

    entry: Entry
    as_alias: bool = False
    distribution: str | None = None
    version: str | None = None

    @property
    def plugin(self) -> str:
        return self.entry.plugin

    def describe(self) -> str:
        """``'lazy' (distribution sciconv-lazy 0.1)``, ``'b' (as an alias of 'b.new', ...)``."""
        return _describe_plugin(
            self.plugin, self.distribution, self.version, self.entry.name if self.as_alias else None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "alias_of": self.entry.name if self.as_alias else None,
        }


def _describe_plugin(plugin: str, distribution: str | None, version: str | None, alias_of: str | None = None) -> str:
    """``'lazy' (distribution sciconv-lazy 0.1)``: a plugin as clash messages name it."""
    parts = [f"as an alias of {alias_of!r}"] if alias_of is not None else []
    if distribution:
        parts.append(" ".join(filter(None, ["distribution", distribution, version])))
    else:
        parts.append("not installed from a distribution")
    return f"{plugin!r} ({', '.join(parts)})"


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _uninstall_hint(commands: list[str]) -> str:
    """What resolves a clash: the ``pip uninstall`` commands, or (for in-process plugins) a rename."""
    if not commands:
        return "remove or rename it in one of them"
    return "uninstall one of them: " + " or ".join(f"`{command}`" for command in commands)


def _by_plugins(claims: tuple[Claim, ...]) -> str:
    """``two plugins: 'a' (...) and 'b' (...), so neither is used``."""
    count, neither = ("two", "neither") if len(claims) == 2 else (str(len(claims)), "none")
    return f"{count} plugins: {_and([claim.describe() for claim in claims])}, so {neither} is used"


@dataclass(frozen=True)
class Clash:
    """A name of one kind that several plugins register. It resolves to none of them until all but one
    are uninstalled."""

    kind: str
    name: str
    claims: tuple[Claim, ...]

    @property
    def plugins(self) -> tuple[str, ...]:
        """The clashing plugins, in load order."""
        return tuple(claim.plugin for claim in self.claims)

    @property
    def distributions(self) -> tuple[str | None, ...]:
        """Each clashing plugin's distribution (``None`` for one registered in process)."""
        return tuple(claim.distribution for claim in self.claims)

    def uninstall_commands(self) -> list[str]:
        """``pip uninstall DIST`` for each clashing distribution but the framework's own."""
        seen: dict[str, str] = {}
        for dist in self.distributions:
            if dist and _normalized_distribution(dist) != FRAMEWORK_DISTRIBUTION:
                seen.setdefault(_normalized_distribution(dist), f"pip uninstall {dist}")
        return list(seen.values())

    def remedy(self) -> str:
        """What resolves it: ``uninstall one of them: `pip uninstall X```, or a rename for in-process plugins."""
        return _uninstall_hint(self.uninstall_commands())

    def message(self) -> str:
        """One line: the name, every plugin with its distribution, and the ``pip uninstall`` to run."""
        return f"{singular(self.kind)} {self.name!r} is registered by {_by_plugins(self.claims)}; {self.remedy()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "plugins": [claim.to_dict() for claim in self.claims],
            "uninstall": self.uninstall_commands(),
            "message": self.message(),
        }


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
        # Every claim on every (kind, name or alias), in load order; entries, aliases and clashes derive from it.
        self._claims: dict[tuple[str, str], list[Claim]] = {}
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.aliases: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}  # deprecated name -> its entry
        self._clashes: dict[tuple[str, str], Clash] = {}

    # -- loading -------------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every plugin of the ``sciconv`` entry-point group."""
        seen: dict[str, str | None] = {}  # plugin name -> the distribution that provides it
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = getattr(dist, "name", None) if dist is not None else None
            if ep.name in seen:
                if dist_name != seen[ep.name]:  # not the same distribution visible twice on sys.path
                    message = (
                        f"two installed distributions provide a plugin named {ep.name!r}: {seen[ep.name]} and "
                        f"{dist_name}; the second is ignored; uninstall one of them: `pip uninstall {dist_name}`"
                    )
                    if self.strict:
                        raise PluginError(f"{message} (strict plugin loading is on)")
                    warnings.warn(message, PluginWarning, stacklevel=2)
                continue
            seen[ep.name] = dist_name
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
        # Within one plugin, a name or alias registered twice is that plugin's bug: it is skipped.
        own: dict[tuple[str, str], Claim] = {}
        for entry in staged:
            for key, as_alias in [(entry.name, False), *((alias, True) for alias in entry.aliases)]:
                claim = Claim(entry, as_alias, info.distribution, info.version)
                prior = own.get((entry.kind, key))
                if prior is not None:
                    self.pm.unregister(plugin)
                    del self.plugins[info.name]
                    how = ""
                    if prior.as_alias or as_alias:
                        sides = [
                            f"as an alias of {c.entry.name!r}" if c.as_alias else "as a name" for c in (prior, claim)
                        ]
                        how = f" ({_and(sides)})"
                    self._fail(info, f"{singular(entry.kind)} {key!r} is registered twice{how}")
                    return
                own[(entry.kind, key)] = claim
        clashing = [key for key in own if key in self._claims]
        if clashing and self.strict:
            kind, name = clashing[0]
            clash = Clash(kind, name, (*self._claims[(kind, name)], own[(kind, name)]))
            self.pm.unregister(plugin)
            del self.plugins[info.name]
            raise PluginError(f"{clash.message()} (strict plugin loading is on: --strict-plugins or {STRICT_ENV}=1)")
        for key, claim in own.items():
            self._claims.setdefault(key, []).append(claim)
        self._rebuild()
        if clashing:
            self._warn_clashes([self._clashes[key] for key in clashing])

    def _warn_clashes(self, clashes: list[Clash]) -> None:
        """One warning for the names a newly loaded plugin shares with plugins loaded before it (grouped by
        the plugins that share them; the plugin loaded first is not the one to blame)."""
        groups: dict[tuple[str, ...], list[Clash]] = {}
        for clash in clashes:
            groups.setdefault(tuple(claim.describe() for claim in clash.claims), []).append(clash)
        sentences = []
        for same in groups.values():
            names = _and([f"{singular(clash.kind)} {clash.name!r}" for clash in same])
            plural = "are" if len(same) > 1 else "is"
            sentences.append(
                f"{names} {plural} registered by {_by_plugins(same[0].claims)}, and a pipeline that uses "
                f"{'them' if len(same) > 1 else 'it'} does not run; {same[0].remedy()}"
            )
        warnings.warn(f"{'; '.join(sentences)} (see `pipeline plugins`)", PluginWarning, stacklevel=4)

    def _rebuild(self) -> None:
        """Derive :attr:`entries`, :attr:`aliases` and the clashes from the claims."""
        entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        aliases: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        clashes: dict[tuple[str, str], Clash] = {}
        for (kind, key), claims in self._claims.items():
            if len(claims) > 1:
                clashes[(kind, key)] = Clash(kind, key, tuple(claims))
            elif claims[0].as_alias:
                aliases[kind][key] = claims[0].entry
            else:
                entries[kind][key] = claims[0].entry
        self.entries, self.aliases, self._clashes = entries, aliases, clashes

    @property
    def clashes(self) -> list[Clash]:
        """Every name that several plugins register (it resolves to none of them), in load order."""
        return list(self._clashes.values())

    def clashes_of(self, plugin: str) -> list[Clash]:
        """The clashes one plugin is part of."""
        return [clash for clash in self._clashes.values() if plugin in clash.plugins]

    def clash(self, kind: str, name: str) -> Clash | None:
        """The clash on ``name`` (a name or an alias) of one kind, if plugins clash on it."""
        return self._clashes.get((kind, name))

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and every name it contributed."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.plugins.pop(name, None)
        claims = {key: [c for c in cs if c.plugin != name] for key, cs in self._claims.items()}
        self._claims = {key: cs for key, cs in claims.items() if cs}
        self._rebuild()

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
        its entry, with a :class:`DeprecatedNameWarning` naming the new name. A name that several plugins
        register (a :class:`Clash`) raises a :class:`PluginError` naming them and what to uninstall."""
        clash = self._clashes.get((kind, name))
        if clash is not None:
            raise PluginError(clash.message())
        try:
            return self.entries[kind][name]
        except KeyError:
            target = self.aliases[kind].get(name)
            if target is not None:
                clash = self._clashes.get((kind, target.name))
                if clash is not None:
                    raise PluginError(f"{name!r} is an old name of {target.name!r}: {clash.message()}") from None
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
