"""Kill-and-resume trials: does a run stopped by a signal, then continued with ``--resume``, end with the
metrics of the uninterrupted run?

For each mode (one process; ``--nproc 2``), each signal (SIGKILL, SIGTERM, SIGINT) and each of three points of
the run (after the checkpoint of an early, a middle and a late epoch), the trial starts ``pipeline run
demo-signal`` in a subprocess, waits for that checkpoint, sends the signal to the ``pipeline`` process (the
launcher under ``--nproc``, as Kubernetes does; SLURM signals every process of the step), waits for it to
end, records its exit code, ``status.json`` and whether any of its processes are still alive, then runs
``pipeline run --resume DIR`` (with the same ``--nproc``) and compares ``metrics.json`` with the uninterrupted
run of the same mode, key by key and exactly. A SIGKILL leaves a single process no chance to write anything
(``status.json`` stays ``running``); under ``--nproc`` the ranks outlive their killed launcher just long enough
to receive the SIGINT torch's worker processes ask for when their parent dies (``PR_SET_PDEATHSIG``), so they
record ``interrupted (SIGINT)``. Writes ``OUT/kill_resume.md`` and ``OUT/kill_resume.json``. Run:

    .venv/bin/python benchmarks/kill_resume.py --out kill-report
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

OVERRIDES = [
    "train.epochs=12",
    "train.early_stopping.patience=null",
    "dataset.params.n_trials=1600",
    "train.progress=false",
]
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
POINTS = {"early": 2, "middle": 6, "late": 10}  # the checkpointed epoch after which the signal is sent


def pipeline_command(*args: str, nproc: int) -> list[str]:
    command = [sys.executable, "-m", "sciconv", "run", *args]
    return command + (["--nproc", str(nproc)] if nproc > 1 else [])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.is_file() and state.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def trial(work: Path, nproc: int, signame: str, epoch: int, env: dict[str, str]) -> dict[str, object]:
    run_dir = work / f"{'nproc2' if nproc > 1 else 'single'}-{signame}-{epoch}"
    proc = subprocess.Popen(
        pipeline_command("demo-signal", *OVERRIDES, "--run-dir", str(run_dir), nproc=nproc),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = run_dir / "checkpoints" / "model" / f"epoch-{epoch:06d}" / "manifest.json"
    deadline = time.monotonic() + 300
    seen: set[int] = set()
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        seen |= descendants(proc.pid)
        time.sleep(0.02)
    seen |= descendants(proc.pid)
    proc.send_signal(SIGNALS[signame])
    _, stderr = proc.communicate(timeout=120)
    time.sleep(1.0)
    leftover = sorted(p for p in seen if alive(p))
    status = json.loads((run_dir / "status.json").read_text()) if (run_dir / "status.json").exists() else {}
    interrupted = not (run_dir / "metrics.json").exists()
    resumed = subprocess.run(
        pipeline_command("--resume", str(run_dir), nproc=nproc), env=env, capture_output=True, text=True, timeout=600
    )
    metrics = json.loads((run_dir / "metrics.json").read_text()) if resumed.returncode == 0 else None
    return {
        "mode": "--nproc 2" if nproc > 1 else "single",
        "signal": signame,
        "after_epoch": epoch,
        "exit_code": proc.returncode,
        "status": status.get("status", "(none)"),
        "status_signal": status.get("signal"),
        "resume_hint": "--resume" in stderr,
        "interrupted_mid_run": interrupted,
        "leftover_processes": len(leftover),
        "resume_exit": resumed.returncode,
        "metrics": metrics,
        "stderr_tail": stderr.strip().splitlines()[-2:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("kill-report"))
    parser.add_argument("--modes", default="1,2", help="process counts to try (1: single process)")
    args = parser.parse_args()
    work = args.out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rows: list[dict[str, object]] = []
    for nproc in (int(n) for n in args.modes.split(",")):
        reference_dir = work / f"reference-{nproc}"
        done = subprocess.run(
            pipeline_command("demo-signal", *OVERRIDES, "--run-dir", str(reference_dir), nproc=nproc),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise SystemExit(f"the uninterrupted run failed: {done.stderr}")
        reference = json.loads((reference_dir / "metrics.json").read_text())
        for signame in SIGNALS:
            for point, epoch in POINTS.items():
                row = trial(work, nproc, signame, epoch, env)
                row["point"] = point
                row["identical"] = row["metrics"] == reference
                rows.append(row)
                print(
                    f"{row['mode']:>9} {signame:<7} after epoch {epoch:>2}: exit {row['exit_code']}, status "
                    f"{row['status']}, leftover {row['leftover_processes']}, resumed {row['resume_exit']}, "
                    f"identical {row['identical']}",
                    flush=True,
                )
    (args.out / "kill_resume.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "| mode | signal | after epoch | exit | status.json | resume hint | left processes | resumed | identical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['signal']} | {r['after_epoch']} | {r['exit_code']} | {r['status']}"
            f"{' (' + str(r['status_signal']) + ')' if r['status_signal'] else ''}"
            f" | {'yes' if r['resume_hint'] else 'no'}"
            f" | {r['leftover_processes']} | {r['resume_exit']} | {'yes' if r['identical'] else 'NO'} |"
        )
    same = sum(1 for r in rows if r["identical"])
    lines += ["", f"{same} of {len(rows)} trials end with metrics identical to the uninterrupted run."]
    (args.out / "kill_resume.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
