"""`pipeline list` and `pipeline plugins` import neither torch nor any plugin's heavy dependency."""

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
    "sciconv_demo.cnn1d",
    "sciconv_demo.oscillations",
    "sciconv_demo.classify",
    "mne",
    "sklearn",
    "pandas",
    "joblib",
    "h5py",
    "sciconv_bci_ssvep.speller_task",
    "sciconv_bci_ssvep.guney_dnn",
    "sciconv_bci_ssvep.datasets",
)

PROBE = """
import sys
from sciconv.cli import main
try:
    code = main({argv!r})
except SystemExit as exit:  # --version exits through argparse
    code = exit.code
loaded = [m for m in {heavy!r} if m in sys.modules]
print("LOADED:" + ",".join(loaded))
sys.exit(code)
"""


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["plugins"], ["plugins", "--json"], ["--version"]])
def test_light_commands_import_nothing_heavy(argv: list[str], subprocess_env: dict[str, str]) -> None:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env)
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.strip().splitlines()[-1]
    assert loaded == "LOADED:", f"{' '.join(argv)} imported heavy modules: {loaded}"


def test_import_sciconv_is_light(subprocess_env: dict[str, str]) -> None:
    code = f"import sys, sciconv; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env, check=True)
    assert out.stdout.strip() == "[]"
