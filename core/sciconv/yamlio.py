"""Safe YAML reading and writing.

Pipeline files are read with PyYAML's safe loader (no tags, nothing evaluated), with duplicate keys
rejected and every error reported as ``file:line:column: problem``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sciconv.errors import ConfigError, NotFoundError


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a {type(key).__name__} cannot be a mapping key", key_node.start_mark
                ) from None
            if key in seen:
                first = seen[key].start_mark
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first defined on line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 3e-4 as a string; YAML 1.2 and every scientist read it as a number.
_UniqueKeySafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely; errors become :class:`ConfigError` with ``source:line:col``."""
    try:
        return yaml.load(text, Loader=_UniqueKeySafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {exc}") from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely (see :func:`parse_yaml`)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_yaml(text, str(path))


def dump_yaml(data: Any) -> str:
    """Serialise plain data to block-style YAML, keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
