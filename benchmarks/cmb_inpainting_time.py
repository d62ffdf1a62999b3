"""Time to inpaint one CMB map: SkyReconNet's forward pass against the Wiener filter's conjugate-gradient solve.

At each Nside (default 64 and 128) one simulated sky (Planck 2018 spectrum from camb, or healpy's shipped file
with ``--spectrum healpy``; beam ``5760 / Nside`` arcmin, i.e. 3 pixels; 1 µK white noise) is masked with the
default cmb-inpainting mask (Galactic cut fsky 0.8, 100 point-source discs of 120 arcmin), and inpainted
``--repeats`` times by each method, interleaved, in this one process:

- ``net``: SkyReconNet with the model's default widths (``--channels 16 32 64 64``; the cmb-inpainting
  pipeline trains ``8 16 32 64`` to fit its 5-minute budget) and dilations (``--dilations``), one map, eval
  mode, ``torch.no_grad``, on the CPU with torch's threads; the input scaling and the NESTED/RING reordering
  included. Untrained weights: the cost of a forward pass does not depend on their values.
- ``wiener``: :func:`sciconv_cmb.baselines.wiener_filter` as the task calls it (relative residual 1e-6, noise at
  least 1 % of the sky's pixel standard deviation); its iteration count is reported.
- ``diffusive``: 3000 neighbour-mean iterations, for scale.

The table gives medians (seconds per map) and the ratio Wiener / net (how many times faster the network is). The
machine is shared and noisy: the ratio, measured side by side, is the number to read. Run:

    .venv/bin/python benchmarks/cmb_inpainting_time.py --out cmb-time-report
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import healpy as hp
import numpy as np
import torch

from sciconv.spec import DataSpec
from sciconv_cmb.baselines import diffusive_inpaint, wiener_filter
from sciconv_cmb.datasets import network_items, read_simulation_folder, scale_of
from sciconv_cmb.models.skyreconnet import SkyReconNet
from sciconv_cmb.sky_simulator import observed_cl, simulate_dataset


def _sky(nside: int, spectrum: str, folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One simulated sky and mask (RING, µK), the spectrum the map sees, and the sky's pixel std (µK)."""
    fwhm = 5760.0 / nside
    simulate_dataset(
        folder,
        n_maps=1,
        nside=nside,
        fwhm_arcmin=fwhm,
        noise_uK=1.0,
        foreground_uK=0.0,
        fsky_galactic=0.8,
        n_sources=100,
        source_radius_arcmin=120.0,
        irregularity_deg=5.0,
        apodisation_arcmin=0.0,
        spectrum=spectrum,
        seed=0,
    )
    sim = read_simulation_folder(folder)
    cl_sky = observed_cl(sim["cl_theory"], nside, fwhm)
    return sim["maps"][0], sim["masks"][0], cl_sky, scale_of(cl_sky, 1.0)


def _time(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def measure(nside: int, args: argparse.Namespace) -> dict[str, float]:
    """Medians of ``args.repeats`` interleaved timings of each method on one map at ``nside``."""
    with tempfile.TemporaryDirectory() as tmp:
        sky, mask, cl_sky, scale = _sky(nside, args.spectrum, Path(tmp))
    observed = mask > 0
    data = np.where(observed, sky, hp.UNSEEN)
    noise = max(1.0, 0.01 * scale)
    npix = 12 * nside**2
    spec = DataSpec((2, npix), npix, "reconstruction", extra={"nside": nside})
    net = SkyReconNet(spec, channels=args.channels, dilations=args.dilations).eval()

    def run_net() -> np.ndarray:
        x, _ = network_items(data[None], mask[None], scale)[0]
        with torch.no_grad():
            out = net(x[None])[0, 0].numpy().astype(np.float64) * scale
        return hp.reorder(out, n2r=True)

    iterations: list[int] = []

    def run_wiener() -> None:
        iterations.append(wiener_filter(data, observed, cl_sky, noise).n_iter)

    def run_diffusive() -> None:
        diffusive_inpaint(data, observed, n_iter=3000)

    methods = {"net": run_net, "wiener": run_wiener, "diffusive": run_diffusive}
    for fn in methods.values():  # warm-up: first calls allocate and build plans
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            times[name].append(_time(fn))
    medians = {name: statistics.median(values) for name, values in times.items()}
    row = {
        "nside": nside,
        "fsky": float(observed.mean()),
        "net_s": medians["net"],
        "wiener_s": medians["wiener"],
        "diffusive_s": medians["diffusive"],
        "wiener_iterations": int(statistics.median(iterations)),
        "wiener_over_net": medians["wiener"] / medians["net"],
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsides", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 64])
    parser.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--spectrum", choices=["camb", "healpy"], default="camb")
    parser.add_argument("--out", type=Path, default=Path("cmb-time-report"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for nside in args.nsides:
        row = measure(nside, args)
        rows.append(row)
        print(json.dumps(row), flush=True)

    lines = [
        f"# Time to inpaint one map (medians of {args.repeats}, seconds; torch threads {torch.get_num_threads()})",
        "",
        "| Nside | fsky | SkyReconNet | Wiener filter (CG iterations) | diffusive (3000 it.) | Wiener / net |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nside']} | {r['fsky']:.3f} | {r['net_s']:.3f} | {r['wiener_s']:.3f} ({r['wiener_iterations']}) "
            f"| {r['diffusive_s']:.3f} | {r['wiener_over_net']:.1f}x |"
        )
    (args.out / "cmb_inpainting_time.md").write_text("\n".join(lines) + "\n")
    (args.out / "cmb_inpainting_time.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
