"""The README's set-up and test commands are the ones CI runs, and its quick start is real."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _code_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_commands() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    blocks = _code_blocks(readme)
    setup = next(b for b in blocks if "pip install" in b and "venv" in b)
    test = next(b for b in blocks if "pytest" in b)
    assert "libusb-1.0-0" in setup, "the set-up command must install the library open3d needs"
    assert setup in ci.splitlines()
    assert test in ci.splitlines()


def test_readme_names_registered_pipelines_and_cli_commands() -> None:
    from sciconv.cli import build_parser
    from sciconv.registry import get_registry

    readme = (REPO / "README.md").read_text()
    example = (REPO / "examples" / "third_party_plugin" / "sciconv_ecg" / "plugin.py").read_text()
    for name in re.findall(r"pipeline run ([a-z][a-z0-9-]*)", readme):
        assert name in get_registry().names("pipelines") or f'"{name}"' in example, name
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in subcommands:
        assert f"pipeline {command}" in readme


def test_readme_plugin_snippet_matches_the_example() -> None:
    readme = (REPO / "README.md").read_text()
    example = (REPO / "examples" / "third_party_plugin" / "sciconv_ecg" / "plugin.py").read_text()
    refs = re.findall(r'"(sciconv_ecg[\w.]*:[\w.-]+)"', readme)
    assert len(refs) == 4
    for ref in refs:
        assert f'"{ref}"' in example, f"README shows {ref}, which the example does not register"
