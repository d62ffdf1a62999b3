"""`pipeline list` and `pipeline plugins` import neither torch nor any plugin's heavy dependency, nor any
module of any installed plugin besides its entry module (its hooks register lazy references only)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "torch",
    "numpy",
    "scipy",
    "pydantic",
    "matplotlib",
    "safetensors",
    "rich",
    "mne",
    "sklearn",
    "pandas",
    "joblib",
    "h5py",
    "anndata",
    "mudata",
    "torch_geometric",
    "statsmodels",
    "monai",
    "nibabel",
    "einops",
)

PROBE = """
import importlib.metadata, sys
from sciconv.cli import main
try:
    code = main({argv!r})
except SystemExit as exit:  # --version exits through argparse
    code = exit.code
entry = [ep.value.partition(":")[0] for ep in importlib.metadata.entry_points(group="sciconv")]
allowed = {{".".join(m.split(".")[: i + 1]) for m in entry for i in range(m.count(".") + 1)}}
tops = {{m.split(".")[0] for m in entry}} - {{"sciconv"}}
plugin_modules = sorted(m for m in sys.modules if m.split(".")[0] in tops and m not in allowed)
heavy = [m for m in {heavy!r} if m in sys.modules]
print("PLUGINS:" + ",".join(sorted(tops)))
print("LOADED:" + ",".join(heavy + plugin_modules))
sys.exit(code)
"""


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["plugins"], ["plugins", "--json"], ["--version"]])
def test_light_commands_import_nothing_heavy(argv: list[str], subprocess_env: dict[str, str]) -> None:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env)
    assert out.returncode == 0, out.stderr
    plugins, loaded = out.stdout.strip().splitlines()[-2:]
    expected = {"sciconv_demo", "sciconv_bci_ssvep", "sciconv_omics_sguq", "sciconv_atm_forecast", "sciconv_medseg"}
    assert expected <= set(plugins.removeprefix("PLUGINS:").split(","))  # every first-party plugin is covered
    assert loaded == "LOADED:", f"{' '.join(argv)} imported heavy modules: {loaded}"


def test_import_sciconv_is_light(subprocess_env: dict[str, str]) -> None:
    code = f"import sys, sciconv; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env, check=True)
    assert out.stdout.strip() == "[]"
