"""Cold start-up of `pipeline list` and `pipeline plugins`, side by side with bare Python and `import torch`.

Each command runs ``--repeats`` times in a fresh interpreter, interleaved so that machine noise hits all
alike; the table gives medians and ratios to a bare interpreter start. Run:

    .venv/bin/python benchmarks/startup.py --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "pipeline list": [sys.executable, "-m", "sciconv", "list"],
    "pipeline plugins": [sys.executable, "-m", "sciconv", "plugins"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["python -c pass"])
    print(f"cold start-up, median of {args.repeats} interleaved runs")
    print(f"{'command':<28} {'median s':>9} {'x bare python':>14}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28} {median:>9.3f} {median / base:>14.1f}")


if __name__ == "__main__":
    main()
