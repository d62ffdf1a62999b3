"""Every script of the examples gallery runs to the end, as a scientist would run it.

Each script is run as ``python examples/gallery/<name>.py OUT_DIR`` in a fresh process; it must exit cleanly,
save its figure as ``OUT_DIR/<name>.png`` and write the trained model's predictions on new data into
``OUT_DIR/predictions/``. So the gallery cannot rot: a change to the core or a plugin that breaks an example
fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parents[2] / "examples" / "gallery"
SCRIPTS = sorted(GALLERY.glob("*.py"))


def test_the_gallery_has_one_script_per_domain_plugin_and_the_core() -> None:
    prefixes = {script.stem.split("_own_")[0] for script in SCRIPTS}
    expected = {
        "core",
        "bci_ssvep",
        "omics_sguq",
        "medseg",
        "atm_forecast",
        "cmb",
        "uatr",
        "deepfea",
        "drivaernet",
        "e3dsnn",
    }
    assert expected <= prefixes, f"missing gallery scripts for {sorted(expected - prefixes)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_gallery_script_runs_and_writes_its_figure_and_predictions(
    script: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    # One torch thread: the gallery's networks are small, and two threads that wait on each other on a machine
    # shared with other work make a script many times slower (the results are checked, not the time).
    env = {**subprocess_env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert (out / f"{script.stem}.png").is_file(), f"{script.name} did not save its figure"
    predictions = out / "predictions"
    assert predictions.is_dir() and any(predictions.iterdir()), f"{script.name} wrote no predictions"
    # the script says in its docstring how to run it and what it shows
    doc = script.read_text().split('"""')[1]
    assert f"python examples/gallery/{script.name}" in doc
