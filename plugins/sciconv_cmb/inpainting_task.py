"""CMB inpainting: SkyReconNet against the diffusive fill, the Wiener filter and a constrained realisation.

The task trains the network (SSIM + MSE, :class:`~sciconv_cmb.models.skyreconnet.SSIMMSELoss`) on the simulated
training maps, then inpaints every test map with each method in the same harness (the same maps, the same masks,
observed pixels passed through unchanged by every method) and scores the masked pixels and the angular power
spectrum (:mod:`.inpainting_metrics`). Metrics are means over the test maps, keyed ``<method>.<metric>``:
``masked_rms_frac``, ``masked_rms_uK``, ``masked_r2``, ``masked_ssim``, ``cl_ratio@<band>``,
``cl_bands_within_1sigma`` (bands within one sigma of cosmic variance, mean count per map) and ``n_cl_bands``.

With a real map (``cmb-inpainting.map``) the task also validates every method by punching extra holes into the
observed sky, where the truth is the observed map (``holes.<method>.rms_frac``, ``holes.<method>.r2``), and
inpaints the real map's masked region with every method (``maps/inpainted_<method>.fits`` in the run folder).

``pipeline predict`` inpaints the maps of any bundle with what the run saved: the network's weights, the spectrum
and the noise level the Wiener filter and constrained realisation used, writing
``inpainted_<method>_<split>_<i>.fits``.

The network is the pipeline's model: SkyReconNet (``cmb-inpainting.skyreconnet``) as the pipelines name it, or a
network of the user's own (``pipe.model = MyNet``, a ``python:`` reference, ``predict(..., model=MyNet)``) that maps
``(B, 2, 12*Nside**2)`` NESTED inputs to ``(B, 1, 12*Nside**2)``. The report, the figures and the log lines then
name it by its class (``"MyNet (the pipeline's model)"``, :func:`method_labels`) and describe it by its
``model.params`` only; its metrics keep the method's key ``net`` (and its weights the name ``skyreconnet``), so
metric keys stay stable and older runs still predict.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, StrictBool

from sciconv import DataBundle, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import ConfigError, DataError
from sciconv.kit import check_model_output, derive_seed, markdown_table
from sciconv_cmb.published import SKYRECONNET_CLAIM, SKYRECONNET_SOURCE, SKYRECONNET_TABLE_CLAIM

METHODS = ("net", "diffusive", "wiener", "cr")
METHOD_LABELS = {
    "net": "SkyReconNet (this run)",
    "diffusive": "diffusive inpainting",
    "wiener": "Wiener filter (CG)",
    "cr": "constrained realisation",
}
"""How the report names each method when the network is the registered SkyReconNet."""


def method_labels(own_model: str | None = None) -> dict[str, str]:
    """How the report, the figures and the log lines name each method: :data:`METHOD_LABELS`, with the network
    (``net``) named by ``own_model`` (``"MyNet (the pipeline's model)"``) when the pipeline's model is a network of
    the user's own (``ctx.own_model_name()``), not the registered SkyReconNet."""
    if own_model is None:
        return dict(METHOD_LABELS)
    return {**METHOD_LABELS, "net": f"{own_model} (the pipeline's model)"}


def _nside(npix: int) -> int:
    import healpy as hp

    return int(hp.npix2nside(npix))


class InpaintingTask(TaskBase):
    """Train SkyReconNet (or the pipeline's own network) on simulated skies, inpaint the test maps with it and the
    baselines, compare.

    Args:
        methods: the methods to run and score (``net``, ``diffusive``, ``wiener``, ``cr``); ``net`` trains the
            pipeline's model (SkyReconNet, or a network of the user's own, which must map ``(B, 2, 12*Nside**2)``
            to ``(B, 1, 12*Nside**2)``: checked on two training maps before training, a ConfigError otherwise).
        loss_alpha: weight of the MSE in the loss (``alpha * MSE + (1 - alpha) * (1 - SSIM)``).
        ssim_data_range: SSIM's data range for maps scaled to unit pixel standard deviation.
        ssim_window: SSIM's window (pixels on the faces), for the loss and the metric.
        diffusive_iterations: neighbour-mean iterations of the diffusive fill.
        wiener_noise_floor: the Wiener filter's noise level is at least this fraction of the sky's pixel standard
            deviation (a noise-free map makes the system singular; 0.01 adds 1e-4 of the variance).
        wiener_tol: relative residual at which the conjugate gradients stop.
        wiener_max_iter: iteration cap of the conjugate gradients.
        holes: discs punched into a real map's observed sky for the hole-punch validation.
        hole_radius_arcmin: their radius.
        show: the test map shown in the report's figures.
        augment: train on a random exact HEALPix symmetry and sign of each training sky, masks kept
            (:class:`~sciconv_cmb.sky_augmentation.SkyAugmented`): 32 skies per simulation.
    """

    def __init__(
        self,
        methods: Sequence[str] = METHODS,
        loss_alpha: Annotated[float, Field(ge=0, le=1)] = 0.5,
        ssim_data_range: Annotated[float, Field(gt=0)] = 8.0,
        ssim_window: Annotated[int, Field(ge=3)] = 7,
        diffusive_iterations: Annotated[int, Field(ge=0)] = 3000,
        wiener_noise_floor: Annotated[float, Field(gt=0)] = 0.01,
        wiener_tol: Annotated[float, Field(gt=0, lt=1)] = 1e-6,
        wiener_max_iter: Annotated[int, Field(ge=1)] = 3000,
        holes: Annotated[int, Field(ge=1)] = 30,
        hole_radius_arcmin: Annotated[float, Field(gt=0)] = 300.0,
        show: Annotated[int, Field(ge=0)] = 0,
        augment: StrictBool = True,
    ) -> None:
        self.methods = list(methods)
        self.loss_alpha = loss_alpha
        self.ssim_data_range = ssim_data_range
        self.ssim_window = ssim_window
        self.diffusive_iterations = diffusive_iterations
        self.wiener_noise_floor = wiener_noise_floor
        self.wiener_tol = wiener_tol
        self.wiener_max_iter = wiener_max_iter
        self.holes = holes
        self.hole_radius_arcmin = hole_radius_arcmin
        self.show = show
        self.augment = augment

    def validate(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods or len(set(self.methods)) != len(self.methods):
            raise ConfigError(
                f"task.params.methods: expected distinct names from {', '.join(METHODS)}, got {list(self.methods)}"
            )
        if self.ssim_window % 2 == 0:
            raise ConfigError(f"task.params.ssim_window: expected an odd window, got {self.ssim_window}")

    # ---------------------------------------------------------------- run

    def run(self, ctx: RunContext) -> TaskResult:
        self.validate()
        data = ctx.load_data()
        info = data.info
        if info.get("maps") is None:
            raise DataError("cmb-inpainting.inpaint needs a CMB dataset (cmb-inpainting.simulated or .map)")
        nside = int(info["nside"])
        if nside < self.ssim_window // 2:
            raise ConfigError(f"task.params.ssim_window {self.ssim_window} is too wide for Nside {nside}")
        noise = self._noise_level(info)
        own = ctx.own_model_name()
        labels = method_labels(own)
        model = None
        if "net" in self.methods:
            from sciconv_cmb.models.skyreconnet import SSIMMSELoss

            model = ctx.build_model(data.spec)
            if own is not None:
                _check_own_model(model, own, data.train, 12 * nside**2)
                ctx.log(f"training {labels['net']} as the network (its metrics keyed net.*)")
            loss = SSIMMSELoss(nside, alpha=self.loss_alpha, data_range=self.ssim_data_range, win_size=self.ssim_window)
            train = data.train
            if self.augment:
                from sciconv_cmb.sky_augmentation import SkyAugmented

                train = SkyAugmented(data.train, nside, derive_seed(ctx.seed, "sky-augmentation"))
            fit = ctx.fit(model, train, data.val, loss_fn=loss, name="skyreconnet")
            model = fit.model
            ctx.save_weights("skyreconnet", model)
        ctx.save_arrays("spectrum", {"cl_sky": info["cl_sky"], "cl_theory": info["cl_theory"]})
        ctx.save_state("inpainting", {"noise_uK": noise, "scale_uK": float(info["scale_uK"]), "nside": nside})

        maps, masks = info["maps"]["test"], info["masks"]["test"]
        ctx.log(f"inpainting {len(maps)} test maps (Nside {nside}) with {_methods_text(self.methods, own)}")
        filled, seconds = self._inpaint(
            ctx, model, data.test, maps, masks, info["cl_sky"], noise, "test", float(info["scale_uK"])
        )
        per_map = self._score(maps, masks, filled)
        metrics = _mean_metrics(per_map)
        real = info.get("real")
        sections: dict[str, str] = {}
        plots: list[tuple[Path, str]] = []
        show = min(int(self.show), len(maps) - 1)
        if ctx.config.output.plots:
            plots += self._sky_figures(
                ctx.plots_dir, maps[show], masks[show], {m: f[show] for m, f in filled.items()}, labels
            )
        if real is not None:
            hole_metrics, hole_text, hole_plots = self._real_map(ctx, model, real, info, noise, labels)
            metrics.update(hole_metrics)
            sections["Hole-punch validation on the real map"] = hole_text
            plots += hole_plots
        table = self._table(metrics, real is not None, labels, own)
        sections["Choices (ours, not the paper's)"] = self._choices(ctx, data, noise, own)
        sections["Power spectrum within cosmic variance"] = self._cl_section(per_map, metrics, labels)
        sections["Time to inpaint one map"] = _timing_text(seconds, nside, labels)
        return TaskResult(metrics=metrics, model=model, table=table, plots=plots, sections=sections)

    def _noise_level(self, info: dict[str, Any]) -> float:
        """The Wiener filter's white-noise level (µK): the maps' noise and their power above 3 Nside - 1 (which
        its band-limited signal model cannot hold), floored at ``wiener_noise_floor`` of the pixel std."""
        total = float(np.hypot(info["noise_uK"], info.get("unresolved_uK", 0.0)))
        return float(max(total, self.wiener_noise_floor * info["scale_uK"]))

    def _inpaint(
        self,
        ctx: RunContext | PredictContext,
        model: Any,
        items: Any,
        maps: np.ndarray,
        masks: np.ndarray,
        cl_sky: np.ndarray,
        noise: float,
        stream: str,
        scale: float,
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Every method's filled maps (n, npix) µK RING and its seconds per map (``scale``: the network's µK per
        unit)."""
        from sciconv_cmb.baselines import constrained_realisation, diffusive_inpaint, fill_masked, wiener_filter

        filled: dict[str, np.ndarray] = {}
        seconds: dict[str, float] = {}
        observed = masks > 0
        for method in self.methods:
            start = time.perf_counter()
            if method == "net":
                if model is None:
                    continue
                estimate = self._network_maps(ctx, model, items, maps.shape[-1], scale)
            elif method == "diffusive":
                estimate = np.stack(
                    [
                        diffusive_inpaint(m, o, n_iter=self.diffusive_iterations)
                        for m, o in zip(maps, observed, strict=True)
                    ]
                )
            elif method == "wiener":
                estimate = np.stack(
                    [
                        wiener_filter(m, o, cl_sky, noise, tol=self.wiener_tol, max_iter=self.wiener_max_iter).signal
                        for m, o in zip(maps, observed, strict=True)
                    ]
                )
            else:
                estimate = np.stack(
                    [
                        constrained_realisation(
                            m,
                            o,
                            cl_sky,
                            noise,
                            seed=derive_seed(ctx.seed, f"cr:{stream}:{i}"),
                            tol=self.wiener_tol,
                            max_iter=self.wiener_max_iter,
                        )
                        for i, (m, o) in enumerate(zip(maps, observed, strict=True))
                    ]
                )
            filled[method] = np.stack([fill_masked(m, o, e) for m, o, e in zip(maps, observed, estimate, strict=True)])
            seconds[method] = (time.perf_counter() - start) / max(len(maps), 1)
        return filled, seconds

    def _network_maps(
        self, ctx: RunContext | PredictContext, model: Any, items: Any, npix: int, scale: float
    ) -> np.ndarray:
        import healpy as hp

        outputs, _ = ctx.predict(model, items)
        nested = outputs.numpy().reshape(len(outputs), npix).astype(np.float64) * scale
        return np.stack([hp.reorder(m, n2r=True) for m in nested])

    def _score(
        self, maps: np.ndarray, masks: np.ndarray, filled: dict[str, np.ndarray]
    ) -> dict[str, list[dict[str, float]]]:
        """Per method, per map: the masked-pixel errors, SSIM and C_l band ratios."""
        from sciconv_cmb.sky_simulator import few_healpy_threads

        scores: dict[str, list[dict[str, float]]] = {}
        with few_healpy_threads(_nside(maps.shape[-1])):
            for method, estimates in filled.items():
                scores[method] = [
                    self._score_map(truth, mask, estimate)
                    for truth, mask, estimate in zip(maps, masks, estimates, strict=True)
                ]
        return scores

    def _score_map(self, truth: np.ndarray, mask: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
        """One map's masked-pixel errors, SSIM and C_l band ratios."""
        from sciconv_cmb.inpainting_metrics import cl_band_ratios, masked_errors, masked_ssim

        observed = mask > 0
        errors = masked_errors(estimate, truth, observed)
        row = {
            "masked_rms_frac": errors["rms_frac"],
            "masked_rms_uK": errors["rms_uK"],
            "masked_r2": errors["r2"],
            "masked_ssim": masked_ssim(estimate, truth, observed, win_size=self.ssim_window),
        }
        bands = cl_band_ratios(estimate, truth, float(observed.mean()))
        for band in bands:
            row[f"cl_ratio@{band.label}"] = band.ratio
            row[f"cl_sigma@{band.label}"] = band.sigma
        row["cl_bands_within_1sigma"] = float(sum(band.within for band in bands))
        row["n_cl_bands"] = float(len(bands))
        return row

    # ---------------------------------------------------------------- the real map

    def _real_map(
        self, ctx: RunContext, model: Any, real: Any, info: dict[str, Any], noise: float, labels: Mapping[str, str]
    ) -> tuple[dict[str, float], str, list[tuple[Path, str]]]:
        folder = Path(ctx.run_dir.path) / "maps"
        metrics, text, holes, filled, _ = self._real_sky(ctx, model, real, info, noise, folder, "", labels)
        plots = self._real_figures(ctx.plots_dir, real, filled, info, holes, labels) if ctx.config.output.plots else []
        dipole = ", ".join(f"{d:.2f}" for d in real.dipole_removed_uK[1:])
        text += (
            f"\n\nThe real map's masked region ({1 - real.fsky:.1%} of the sky) was inpainted by every method: "
            f"`maps/inpainted_<method>.fits` (µK, RING). Monopole and dipole fitted on the observed pixels and removed "
            f"first: {real.dipole_removed_uK[0]:.2f} µK and ({dipole}) µK."
        )
        return metrics, text, plots

    def _real_sky(
        self,
        ctx: RunContext | PredictContext,
        model: Any,
        real: Any,
        info: dict[str, Any],
        noise: float,
        folder: Path,
        suffix: str,
        labels: Mapping[str, str],
    ) -> tuple[dict[str, float], str, np.ndarray, dict[str, np.ndarray], list[Path]]:
        """The hole-punch validation of a real map, then its mask inpainted by every method and written to
        ``folder/inpainted_<method><suffix>.fits``: the hole metrics, their text, the discs, each method's
        inpainted map (npix,) µK RING, and the files."""
        metrics, text, holes = self._holes(ctx, model, real, info, noise, labels)
        filled, _ = self._inpaint_real(ctx, model, real.values[None], real.mask[None], info, noise, "real")
        folder.mkdir(parents=True, exist_ok=True)
        files = [_write_inpainted(folder / f"inpainted_{m}{suffix}.fits", f[0]) for m, f in filled.items()]
        return metrics, text, holes, {m: f[0] for m, f in filled.items()}, files

    def _inpaint_real(
        self,
        ctx: RunContext | PredictContext,
        model: Any,
        maps: np.ndarray,
        masks: np.ndarray,
        info: dict[str, Any],
        noise: float,
        stream: str,
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        from sciconv_cmb.datasets import network_items

        items = network_items(maps, masks, float(info["scale_uK"]))
        return self._inpaint(ctx, model, items, maps, masks, info["cl_sky"], noise, stream, float(info["scale_uK"]))

    def _holes(
        self,
        ctx: RunContext | PredictContext,
        model: Any,
        real: Any,
        info: dict[str, Any],
        noise: float,
        labels: Mapping[str, str],
    ) -> tuple[dict[str, float], str, np.ndarray]:
        """Punch discs into the observed sky, inpaint with every method, score the discs (their truth is known)."""
        from sciconv_cmb.datasets import hole_mask
        from sciconv_cmb.inpainting_metrics import masked_errors

        holes = hole_mask(real, int(self.holes), float(self.hole_radius_arcmin), ctx.seed)
        mask = real.mask * ~holes
        filled, _ = self._inpaint_real(ctx, model, real.values[None], mask[None], info, noise, "holes")
        observed_std = float(np.std(real.values[real.observed]))
        metrics: dict[str, float] = {}
        rows = []
        for method, maps in filled.items():
            # score the discs only: truth = the observed map; rms_frac over the observed sky's standard deviation
            only_holes = ~holes  # "observed" for the metric = everything but the discs
            errors = masked_errors(maps[0], real.values, only_holes)
            rms_frac = errors["rms_uK"] / observed_std
            metrics[f"holes.{method}.rms_frac"] = rms_frac
            metrics[f"holes.{method}.rms_uK"] = errors["rms_uK"]
            metrics[f"holes.{method}.r2"] = errors["r2"]
            rows.append(
                {
                    "method": labels[method],
                    "RMS error (µK)": errors["rms_uK"],
                    "rms_frac": rms_frac,
                    "R²": errors["r2"],
                }
            )
        metrics["holes.n_pixels"] = float(holes.sum())
        text = (
            f"{int(self.holes)} discs of {self.hole_radius_arcmin:g} arcmin punched into the observed sky "
            f"({int(holes.sum())} pixels, seeded from the run's seed); every method inpainted the real mask plus the "
            "discs, and is scored on the discs, where the observed map is the truth. rms_frac is the RMS error over "
            f"the standard deviation of the observed sky ({observed_std:.1f} µK).\n\n" + markdown_table(rows)
        )
        return metrics, text, holes

    # ---------------------------------------------------------------- report

    def _table(
        self, metrics: dict[str, float], real: bool, labels: Mapping[str, str], own: str | None
    ) -> list[ResultRow]:
        """The results table: one row per method, then the paper's claim. The network's row is keyed ``net.*`` in
        ``metrics.json`` whichever network ran; its source says so when it is the user's own."""
        rows = []
        band_keys = sorted(
            {k.split(".", 1)[1] for k in metrics if ".cl_ratio@" in k and not k.startswith("holes.")},
            key=_band_order,
        )
        for method in self.methods:
            if f"{method}.masked_rms_frac" not in metrics:
                continue
            row: dict[str, float | str] = {
                "masked RMS / std": metrics[f"{method}.masked_rms_frac"],
                "masked RMS (µK)": metrics[f"{method}.masked_rms_uK"],
                "masked R²": metrics[f"{method}.masked_r2"],
                "masked SSIM": metrics[f"{method}.masked_ssim"],
            }
            for key in band_keys:
                row[f"C_l ratio {key.split('@')[1]}"] = metrics[f"{method}.{key}"]
            row["C_l bands within 1σ"] = (
                f"{metrics[f'{method}.cl_bands_within_1sigma']:.2f} / {metrics[f'{method}.n_cl_bands']:.0f}"
            )
            if real:
                row["holes RMS / std (real map)"] = metrics[f"holes.{method}.rms_frac"]
            source = "this run" if method != "net" or own is None else f"this run: {own}, keyed `net.*` in metrics"
            rows.append(ResultRow(labels[method], row, source=source))
        rows.append(
            ResultRow(
                "SkyReconNet (paper)",
                {"C_l bands within 1σ": SKYRECONNET_TABLE_CLAIM},
                source=SKYRECONNET_SOURCE,
                published=True,
            )
        )
        return rows

    def _choices(self, ctx: RunContext, data: DataBundle, noise: float, own: str | None) -> str:
        """The run's settings. A network of the user's own (``own``, its class name) is described by what ran: its
        ``model.params``, the task's input and output layout and the loss, never SkyReconNet's architecture."""
        info = data.info
        model = ctx.config.model
        params = ", ".join(f"{k}={v}" for k, v in sorted(ctx.model_params.items()))
        sim = info.get("simulation", {})
        loss = (
            f"loss {self.loss_alpha:g} MSE + {1 - self.loss_alpha:g} (1 - SSIM) (MONAI SSIMLoss on the faces, window "
            f"{self.ssim_window}, data range {self.ssim_data_range:g})"
        )
        if own is None:
            network = [
                "The paper's projection, Nside, depth, dilation rates and training-set size could not be retrieved; "
                "these are this project's choices:",
                "",
                f"- Projection: the 12 HEALPix NESTED base faces as exact {info['nside']}x{info['nside']} images, "
                "each convolution fed by its face padded with the neighbouring faces' pixels (no interpolation).",
                f"- Network: `{model.name}` ({params}); {loss}.",
            ]
        else:
            npix = 12 * int(info["nside"]) ** 2
            network = [
                f"The network of this run is `{own}`, the pipeline's own model, not SkyReconNet: the paper's claim "
                "above is quoted for reference only. Its row in the tables is "
                f"\"{own} (the pipeline's model)\", keyed `net.*` in `metrics.json` (the task's key for the network, "
                "whichever network ran; its weights are kept as `skyreconnet`). This run's settings:",
                "",
                f"- Network: `{own}` with model.params {params or 'none (its own defaults)'}; it reads the masked map "
                f"(0 where masked) and the mask as NESTED HEALPix maps scaled to unit pixel standard deviation, "
                f"(B, 2, {npix}), and returns the full map, (B, 1, {npix}); the observed pixels of its output are "
                f"replaced by the observed map before scoring, as for every method; {loss}.",
            ]
        return "\n".join(
            [
                SKYRECONNET_CLAIM,
                "",
                *network,
                f"- Data: {info['source']}; {len(data.train)} training, {len(data.val)} validation and "
                f"{len(data.test)} test maps; beam {info['fwhm_arcmin']:g} arcmin FWHM and the pixel window; white "
                f"noise {info['noise_uK']:g} µK per pixel; spectrum `{sim.get('theory', {}).get('source', '?')}` "
                "(camb: the Planck 2018 best fit; healpy: healpy's shipped totcls file); skies synthesised at "
                f"{sim.get('settings', {}).get('supersample', 1)} x Nside and averaged over the sub-pixels (1: "
                "band-limited at 3 Nside - 1).",
                f"- Wiener filter and constrained realisation: conjugate gradients in harmonic space to relative "
                f"residual {self.wiener_tol:g}, noise level {noise:.3g} µK: the data's white noise "
                f"({info['noise_uK']:g} µK) and the pixel rms of the sky's power above l = 3 Nside - 1, which a "
                f"band-limited signal model cannot hold ({info.get('unresolved_uK', 0.0):.3g} µK), floored at "
                f"{self.wiener_noise_floor:g} of the sky's pixel standard deviation {info['scale_uK']:.1f} µK.",
                f"- Diffusive inpainting: {self.diffusive_iterations} neighbour-mean iterations.",
            ]
        )

    def _cl_section(
        self, per_map: dict[str, list[dict[str, float]]], metrics: dict[str, float], labels: Mapping[str, str]
    ) -> str:
        first = next(iter(per_map.values()))[0]
        sigmas = [(k.split("@")[1], v) for k, v in first.items() if k.startswith("cl_sigma@")]
        lines = [
            "C_l of the inpainted full sky over the true sky's C_l, summed over each band with weights 2l+1 "
            "(bands l = lo .. hi-1, the last up to lmax = 3 Nside - 1). One sigma of cosmic variance of a band is "
            "sqrt(2 / (fsky Σ(2l+1))) with fsky the observed fraction: the spread a band of C_l has when only the "
            "observed sky is known. Band sigmas of the first test map: "
            + ", ".join(f"{label}: {sigma:.3f}" for label, sigma in sigmas)
            + ".",
            "",
            "Bands within one sigma, mean over the test maps: "
            + ", ".join(
                f"{labels[m]} {metrics[f'{m}.cl_bands_within_1sigma']:.2f} of {metrics[f'{m}.n_cl_bands']:.0f}"
                for m in per_map
            )
            + ".",
        ]
        return "\n".join(lines)

    def _sky_figures(
        self,
        plots_dir: Path,
        truth: np.ndarray,
        mask: np.ndarray,
        filled: dict[str, np.ndarray],
        labels: Mapping[str, str],
    ) -> list[tuple[Path, str]]:
        import healpy as hp

        from sciconv_cmb.sky_figures import cl_plot, mollweide_grid

        observed = mask > 0
        panels: list[tuple[str, np.ndarray]] = [
            ("true sky", truth),
            ("masked (input)", np.where(observed, truth, hp.UNSEEN)),
        ]
        panels += [(f"{labels[method]}: inpainted", estimate) for method, estimate in filled.items()]
        sky = mollweide_grid(panels, plots_dir / "skies.png", ncols=2)
        residual_panels = [
            (f"{labels[method]}: estimate - truth", np.where(observed, hp.UNSEEN, estimate - truth))
            for method, estimate in filled.items()
        ]
        residuals = mollweide_grid(residual_panels, plots_dir / "residuals.png", ncols=2)
        ells = np.arange(2, 3 * _nside(truth.size))
        truth_cl = hp.anafast(truth)[2:]
        method_cls = {labels[m]: hp.anafast(e)[2:] for m, e in filled.items()}
        cl = cl_plot(plots_dir / "cl.png", ells, truth_cl, method_cls, float(observed.mean()), title="test map")
        return [
            (sky, "The first test map: the true sky, the masked input, and each method's inpainted sky, µK."),
            (
                residuals,
                "The residual of each method on the first test map: estimate - truth inside the mask (observed pixels "
                "grey), µK, on one colour scale for all methods (finer than the skies').",
            ),
            (
                cl,
                "Angular power spectrum of the inpainted full skies against the true sky, with the truth's cosmic "
                "variance (fsky = the observed fraction) shaded.",
            ),
        ]

    def _real_figures(
        self,
        plots_dir: Path,
        real: Any,
        filled: dict[str, np.ndarray],
        info: dict[str, Any],
        holes: np.ndarray,
        labels: Mapping[str, str],
    ) -> list[tuple[Path, str]]:
        import healpy as hp

        from sciconv_cmb.sky_figures import cl_plot, mollweide_grid

        panels: list[tuple[str, np.ndarray]] = [
            ("observed map (mask grey)", np.where(real.observed, real.values, hp.UNSEEN)),
            ("hole-punch discs (grey)", np.where(real.observed & ~holes, real.values, hp.UNSEEN)),
        ]
        panels += [(f"{labels[m]}: inpainted", e) for m, e in filled.items()]
        sky = mollweide_grid(panels, plots_dir / "real_skies.png", ncols=2)
        nside = real.nside
        ells = np.arange(2, 3 * nside)
        white = info["noise_uK"] ** 2 + info.get("unresolved_uK", 0.0) ** 2  # µK², as white noise per pixel
        theory = info["cl_sky"][2 : 3 * nside] + white * 4 * np.pi / (12 * nside**2)
        method_cls = {labels[m]: hp.anafast(e)[2:] for m, e in filled.items()}
        cl = cl_plot(
            plots_dir / "real_cl.png", ells, theory, method_cls, real.fsky, title="real map vs Planck 2018 theory"
        )
        return [
            (
                sky,
                f"The real map ({real.map_path.name}) with its mask, the hole-punch discs, and each method's "
                "inpainting of the masked region, µK.",
            ),
            (
                cl,
                "C_l of the inpainted real map against the theory spectrum with the map's beam, pixel window, noise "
                "and the power above 3 Nside - 1 as white noise (the reference line; no true sky exists), cosmic "
                "variance for the observed fraction shaded.",
            ),
        ]

    # ---------------------------------------------------------------- predict

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Inpaint the bundle's maps (every split, or the test split with ``--split test``) with every method,
        write ``inpainted_<method>_<split>_<i>.fits`` (µK, RING) into the output folder, and score them: with
        ``--split test`` the run's own metric names (reproducing its ``metrics.json``), otherwise under ``all.``. A
        real map in the bundle (``cmb-inpainting.map``) is also hole-punch validated and inpainted
        (``inpainted_<method>_real.fits``). The network is built by the pipeline's model factory (the one given to
        ``predict(..., model=MyNet)`` for a run whose network was the user's own) and named by it in the log."""
        import pandas as pd

        info = bundle.info
        state = ctx.load_state("inpainting")
        spectrum = ctx.load_arrays("spectrum")
        noise = float(state["noise_uK"])
        scale = float(state["scale_uK"])
        trained_info = {**info, "cl_sky": spectrum["cl_sky"], "scale_uK": scale}
        own = ctx.own_model_name()
        model = None
        if "net" in self.methods and ctx.trained.has("skyreconnet"):
            model = ctx.load_weights("skyreconnet", ctx.build_model(ctx.spec or bundle.spec))
        splits = ["test"] if ctx.split == "test" else ["train", "val", "test"]
        maps = np.concatenate([info["maps"][s] for s in splits])
        masks = np.concatenate([info["masks"][s] for s in splits])
        names = [f"{s}_{i}" for s in splits for i in range(len(info["maps"][s]))]
        stream = "test" if ctx.split == "test" else "all"
        methods = [m for m in self.methods if m != "net" or model is not None]
        ctx.log(f"inpainting {len(maps)} maps ({', '.join(splits)}) with {_methods_text(methods, own)}")
        # scaled as the run scaled its maps, filtered with the run's spectrum
        filled, _ = self._inpaint_real(ctx, model, maps, masks, trained_info, noise, stream)
        per_map = self._score(maps, masks, filled)
        prefix = "" if ctx.split == "test" else "all."
        metrics = {f"{prefix}{k}": v for k, v in _mean_metrics(per_map).items()}
        files = [
            _write_inpainted(ctx.out_dir / f"inpainted_{method}_{name}.fits", estimate)
            for method, estimates in filled.items()
            for name, estimate in zip(names, estimates, strict=True)
        ]
        rows = []
        for i, name in enumerate(names):
            row: dict[str, Any] = {"map": name, "fsky": float((masks[i] > 0).mean())}
            for method, scores in per_map.items():
                for key in ("masked_rms_frac", "masked_r2", "masked_ssim", "cl_bands_within_1sigma"):
                    row[f"{method}.{key}"] = scores[i][key]
            rows.append(row)
        tables = {"predictions": pd.DataFrame(rows)}
        real = info.get("real")
        if real is not None:
            hole_metrics, _, _, _, real_files = self._real_sky(
                ctx, model, real, trained_info, noise, ctx.out_dir, "_real", method_labels(own)
            )
            metrics.update({f"{prefix}{k}": v for k, v in hole_metrics.items()})
            files += real_files
        return PredictionResult(tables=tables, metrics=metrics, files=files)


def _write_inpainted(path: Path, estimate: np.ndarray) -> Path:
    """An inpainted map (npix,) µK RING as a HEALPix FITS file (column TEMPERATURE, TUNIT uK_CMB)."""
    from sciconv_cmb.healpix_io import write_sky_map

    return write_sky_map(path, estimate, unit="uK_CMB", column_names=["TEMPERATURE"])


def _band_order(key: str) -> int:
    label = key.split("@", 1)[1]
    return int(label.split("-", 1)[0])


def _mean_metrics(per_map: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Means over the maps of every per-map score, keyed ``<method>.<score>`` (sigmas left out)."""
    metrics: dict[str, float] = {}
    for method, rows in per_map.items():
        for key in rows[0]:
            if key.startswith("cl_sigma@"):
                continue
            metrics[f"{method}.{key}"] = float(np.mean([row[key] for row in rows]))
    return metrics


def _methods_text(methods: Sequence[str], own: str | None) -> str:
    """The methods as a log line names them: their keys, the network's followed by its class when it is the user's
    own (``net (MyNet, the pipeline's model)``)."""
    return ", ".join(f"net ({own}, the pipeline's model)" if m == "net" and own is not None else m for m in methods)


def _check_own_model(model: Any, name: str, train: Any, npix: int) -> None:
    """Refuse, before training, a network of the user's own that does not map the task's inputs ``(B, 2, npix)``
    (NESTED masked map and mask) to ``(B, 1, npix)``: one forward pass on the first two training items, in eval mode
    and without gradients (:func:`sciconv.kit.check_model_output`), ConfigError naming the class and the shapes."""
    import torch

    n = min(2, len(train))
    if n == 0:
        return
    x = torch.stack([train[i][0] for i in range(n)])
    parameter = next(iter(model.parameters()), None)
    if parameter is not None:
        x = x.to(parameter.device)
    check_model_output(
        model,
        x,
        [(n, 1, npix)],
        needs=f"model {name} (the pipeline's model): cmb-inpainting.inpaint expects a network mapping the masked map "
        f"and mask, NESTED, (B, 2, {npix}), to the full map (B, 1, {npix})",
    )


def _timing_text(seconds: dict[str, float], nside: int, labels: Mapping[str, str]) -> str:
    if not seconds:
        return "No method ran."
    rows = [{"method": labels[m], "seconds per map": s} for m, s in seconds.items()]
    text = (
        f"Wall-clock seconds per test map at Nside {nside} in this run (this machine, noisy; the network's time is "
        "batched inference on the run's device):\n\n" + markdown_table(rows)
    )
    if "net" in seconds and "wiener" in seconds and seconds["net"] > 0:
        text += f"\n\nWiener filter / network time: {seconds['wiener'] / seconds['net']:.1f}x."
    text += " `benchmarks/cmb_inpainting_time.py` measures the ratio at Nside 64 and 128."
    return text
