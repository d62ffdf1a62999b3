"""The DeepFEA task: train the NEP net (ConvLSTM) with the NELO schedule, roll it out free-running from each test
case's initial state, boundary conditions and load history, and compare it, in one harness, with a non-recurrent
convolutional baseline, the quasi-static solution and the finite element solver it replaces (accuracy and time).

Training (NELO, from the official code): loss ``s · MSE(node) + s · MSE(element)`` on the scaled targets, s = 1e5;
scheduled sampling on the fed-back node channels, teacher-forcing probability ``p = 0.7^k`` after ``k`` periods
of ``tf_period`` epochs, 0 once below 0.01, set on the model before each epoch through the engine's
``on_epoch_start`` hook; validation always free-running (the model's eval mode). The pipeline's ``train``
section gives the optimiser and the schedule (the paper: Adam lr 1e-3, MultiStepLR at [600, 700, 800, 1000, 1200]
x 0.7, 1000 epochs, batch 32).

Errors are computed in physical units over the whole rollout of every test case, normalised by the range of the
true values over the test set (``nme``: mean absolute error / range; ``nrmse``: RMS error / range). Nodes:
``node_nme`` and ``node_nrmse`` by the range of the node coordinates (the range the data's min-max scaling uses: our
reading of the paper's normalisation), and the stricter ``disp_nrmse`` by the range of the displacements (which are
a few % of the plate: an error small against the plate can be large against the motion); ``node_r2`` is the R² of
the displacements. Elements: the mean of the effective stress's and the effective strain's errors.

The pipeline's model is the ``nep`` method. A network of the user's own in its place (``pipe.model = MyNet``, a
``python:`` reference, ``predict(..., model=MyNet)``) is named by its class in the report, the figures and the log
(``MyNet (the pipeline's model)``, with only its ``model.params``), never as the NEP net; its metrics, weights and
predicted folders keep the method's name ``nep`` (stable keys, old runs still predict), which the report says. It
needs no attribute of the NEP net: one sequence ``(1, T, C, *grid)`` must give ``(1, T, F)`` before training, else
a :class:`~sciconv.errors.ConfigError`; the task sets ``teacher_forcing`` on it before each epoch all the same,
which only a network that reads it uses (the report says whether it has one).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.context import PredictContext, RunContext
from sciconv.errors import DataError
from sciconv.kit import check_model_output, derive_seed, markdown_table, seed_everything
from sciconv_deepfea import published
from sciconv_deepfea.datasets import scale_inputs, split_target, unscale_targets

METHODS = ("nep", "cnn", "quasistatic")
CNN_MODEL = "deepfea.frame-cnn"
ERROR_KEYS = ("node_nme", "node_nrmse", "disp_nrmse", "elem_nme", "elem_nrmse", "node_r2", "elem_r2")
LABELS = {
    "nep": "NEP net (ConvLSTM, autoregressive)",
    "cnn": "frame CNN (non-recurrent)",
    "quasistatic": "quasi-static (static solution at the current load)",
}


def method_labels(own_model: str | None) -> dict[str, str]:
    """How the report names each method: :data:`LABELS`, the pipeline's model (``nep``) by its class when it is the
    user's own (``own_model``, from ``ctx.own_model_name()``): ``"MyNet (the pipeline's model)"``."""
    if own_model is None:
        return dict(LABELS)
    return {**LABELS, "nep": f"{own_model} (the pipeline's model)"}


def short_names(own_model: str | None) -> dict[str, str]:
    """The methods' names in table columns, the speed table and figure titles: the method names, ``nep`` replaced
    by the class name of the user's own network (``own_model``) when there is one."""
    return {m: (own_model if m == "nep" and own_model is not None else m) for m in METHODS}


def trainable_parameters(model: Any) -> int:
    """How many trainable parameters ``model`` (a ``torch.nn.Module``) has."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def check_own_model(model: Any, x: Any, n_outputs: int, name: str) -> None:
    """Refuse, before training, a network of the user's own in the pipeline model's place whose output the task's
    loss and rollout cannot use (:func:`sciconv.kit.check_model_output`).

    Args:
        model: the built network (a ``torch.nn.Module``); its train/eval mode is restored.
        x: one scaled input sequence ``(1, T, C, *grid)`` (``C``: node coordinates, loads, boundary mask).
        n_outputs: ``F``, the features of each step's output: node coordinates first, then stress and strain per
            element (``dim * prod(grid) + 2 * prod(grid - 1)``).
        name: the network's name for the message.

    Raises:
        ConfigError: the forward pass fails on ``x`` or does not return a tensor ``(1, T, F)``.
    """
    expected = (int(x.shape[0]), int(x.shape[1]), int(n_outputs))
    check_model_output(
        model,
        x,
        [expected],
        needs=f"the pipeline's model {name}: the deepfea.rollout task needs a network mapping scaled inputs "
        f"(B, T, C, *grid) to (B, T, F) = {expected} here (each step's next node coordinates, then the effective "
        "stress and strain per element)",
    )


def teacher_forcing_probability(epoch: int, period: int, decay: float = 0.7, floor: float = 0.01) -> float:
    """NELO's scheduled sampling: ``decay ** ((epoch - 1) // period)`` for the 1-based ``epoch``, 0 below ``floor``."""
    p = decay ** ((epoch - 1) // period)
    return 0.0 if p < floor else float(p)


class NodeElementLoss:
    """``scale · MSE(node) + scale · MSE(element)`` of flattened targets ``(B, T, F)`` (:func:`split_target`)."""

    def __init__(self, dim: int, grid: tuple[int, ...], scale: float = 1e5) -> None:
        self.dim = dim
        self.grid = tuple(grid)
        self.scale = float(scale)

    def __call__(self, output: Any, target: Any) -> Any:
        import torch.nn.functional as F

        node_p, elem_p = split_target(output, self.dim, self.grid)
        node_t, elem_t = split_target(target, self.dim, self.grid)
        return self.scale * F.mse_loss(node_p, node_t) + self.scale * F.mse_loss(elem_p, elem_t)


def rollout_errors(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], reference: np.ndarray) -> dict[str, Any]:
    """Errors of physical predictions against the truth.

    Args:
        pred, true: ``dis_out`` ``(N, T, dim, *grid)`` (m), ``eff_stress``, ``eff_strain`` ``(N, T, *elem_grid)``.
        reference: ``(N, dim, *grid)`` the reference (undeformed) node positions.

    Returns:
        ``node_nme``, ``node_nrmse`` (by the coordinates' range), ``disp_nrmse`` (by the displacements' range),
        ``elem_nme``, ``elem_nrmse``, ``node_r2`` (of the displacements), ``elem_r2``; per step ``node_nrmse_t``
        (displacement-normalised) and ``elem_nrmse_t`` ``(T,)``; per case ``node_nrmse_case`` ``(N,)``
        (displacement-normalised).
    """
    u_p = pred["dis_out"] - reference[:, None]
    u_t = true["dis_out"] - reference[:, None]

    def norm(p: np.ndarray, t: np.ndarray, axes: tuple[int, ...] | None = None) -> tuple[Any, Any, float]:
        span = float(t.max() - t.min()) or 1.0
        err = p - t
        nme = np.mean(np.abs(err), axis=axes) / span
        nrmse = np.sqrt(np.mean(err**2, axis=axes)) / span
        r2 = 1.0 - float(np.sum(err**2)) / max(float(np.sum((t - t.mean()) ** 2)), 1e-300)
        return nme, nrmse, r2

    _, d_nrmse, n_r2 = norm(u_p, u_t)
    n_nme, n_nrmse, _ = norm(pred["dis_out"], true["dis_out"])
    s_nme, s_nrmse, s_r2 = norm(pred["eff_stress"], true["eff_stress"])
    e_nme, e_nrmse, e_r2 = norm(pred["eff_strain"], true["eff_strain"])
    steps = tuple(i for i in range(u_t.ndim) if i != 1)
    elem_steps = tuple(i for i in range(true["eff_stress"].ndim) if i != 1)
    cases = tuple(range(1, u_t.ndim))
    span_u = float(u_t.max() - u_t.min()) or 1.0
    span_s = float(true["eff_stress"].max() - true["eff_stress"].min()) or 1.0
    span_e = float(true["eff_strain"].max() - true["eff_strain"].min()) or 1.0
    return {
        "node_nme": float(n_nme),
        "node_nrmse": float(n_nrmse),
        "disp_nrmse": float(d_nrmse),
        "elem_nme": float((s_nme + e_nme) / 2),
        "elem_nrmse": float((s_nrmse + e_nrmse) / 2),
        "node_r2": float(n_r2),
        "elem_r2": float((s_r2 + e_r2) / 2),
        "node_nrmse_t": np.sqrt(np.mean((u_p - u_t) ** 2, axis=steps)) / span_u,
        "elem_nrmse_t": (
            np.sqrt(np.mean((pred["eff_stress"] - true["eff_stress"]) ** 2, axis=elem_steps)) / span_s
            + np.sqrt(np.mean((pred["eff_strain"] - true["eff_strain"]) ** 2, axis=elem_steps)) / span_e
        )
        / 2,
        "node_nrmse_case": np.sqrt(np.mean((u_p - u_t) ** 2, axis=cases)) / span_u,
    }


class RolloutTask(TaskBase):
    """Train the NEP net and the frame CNN, roll both out on the test cases, score them and the quasi-static
    baseline, and time the rollout against the solver.

    Args:
        methods: which of ``nep``, ``cnn``, ``quasistatic`` to run (the quasi-static baseline needs the cases'
            simulation parameters: simulated data only).
        loss_scale: ``s`` of the NELO loss (paper: 1e5).
        tf_period: epochs per teacher-forcing period (paper: 40).
        tf_decay: the factor per period (paper: 0.7).
        cnn_width, cnn_depth: the frame CNN's channels and convolution layers.
        timing_cases: test cases the solver is timed on (the official layout: cases drawn like the data).
        plots_case: index of the test case drawn in the report's figures.

    The ``nep`` method is the pipeline's model: the registered NEP net, or a network of the user's own in its place
    (named by its class in the report and the log; see the module's docstring).
    """

    def __init__(
        self,
        methods: list[Literal["nep", "cnn", "quasistatic"]] = list(METHODS),  # noqa: B006
        loss_scale: Annotated[float, Field(gt=0.0)] = 1e5,
        tf_period: Annotated[int, Field(ge=1)] = 40,
        tf_decay: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.7,
        cnn_width: Annotated[int, Field(ge=1)] = 64,
        cnn_depth: Annotated[int, Field(ge=1)] = 4,
        timing_cases: Annotated[int, Field(ge=1)] = 5,
        plots_case: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        self.methods = [m for m in METHODS if m in methods]
        self.loss_scale = float(loss_scale)
        self.tf_period = int(tf_period)
        self.tf_decay = float(tf_decay)
        self.cnn_width = int(cnn_width)
        self.cnn_depth = int(cnn_depth)
        self.timing_cases = int(timing_cases)
        self.plots_case = int(plots_case)

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        data = ctx.load_data()
        info = data.info
        dim, grid = int(info["dim"]), tuple(info["grid"])
        loss = NodeElementLoss(dim, grid, self.loss_scale)
        test_index = np.asarray(info["split"]["test"])
        truth = {k: info["physical"][k][test_index] for k in ("dis_out", "eff_stress", "eff_strain")}
        reference = info["physical"]["dis_in"][test_index][:, 0, :dim]
        x_test = data.test.tensors[0]
        results: dict[str, dict[str, Any]] = {}
        predictions: dict[str, dict[str, np.ndarray]] = {}
        timing: dict[str, float] = {}
        sizes: dict[str, int] = {}  # trainable parameters of each network, by method
        own = ctx.own_model_name() if "nep" in self.methods else None
        own_has_tf: bool | None = None  # whether the user's own network has a teacher_forcing attribute
        model = None
        ctx.log(
            f"{len(info['split']['train'])} training, {len(info['split']['val'])} validation, {len(test_index)} "
            f"test cases on a {'x'.join(map(str, grid))} grid, {data.spec.input_shape[0]} steps"
        )
        for method in ("nep", "cnn"):
            if method not in self.methods:
                continue
            seed_everything(derive_seed(ctx.seed, method))
            if method == "nep":
                net = ctx.build_model(data.spec)
                sizes[method] = trainable_parameters(net)
                if own is not None:
                    check_own_model(net, data.train[0][0][None], data.spec.n_outputs, own)
                    own_has_tf = hasattr(net, "teacher_forcing")
                    ctx.log(
                        f"nep: {method_labels(own)['nep']}, model.params {_params_text(ctx.model_params)}, "
                        f"{sizes[method]:,} trainable parameters, in the NEP net's place (its metrics keep the keys "
                        "nep.*)"
                    )

                def schedule(epoch: int, net: Any = net) -> None:
                    net.teacher_forcing = teacher_forcing_probability(epoch, self.tf_period, self.tf_decay)

                fitted = ctx.fit(net, data.train, data.val, loss_fn=loss, name="nep", on_epoch_start=schedule).model
                fitted.teacher_forcing = 0.0
                model = fitted
            else:
                # the registered factory itself, so that the core's "Model size" line counts the pipeline's model
                # alone: each network's size is in the "Networks trained" section
                net = ctx.model_factory_named(CNN_MODEL)(data.spec, width=self.cnn_width, depth=self.cnn_depth)
                sizes[method] = trainable_parameters(net)
                fitted = ctx.fit(net, data.train, data.val, loss_fn=loss, name="cnn").model
            ctx.save_weights(method, fitted)
            scaled = rollout(fitted, x_test, ctx.config.train.batch_size)
            predictions[method] = unscale_targets(scaled, info["scaling"], dim, grid)
            results[method] = rollout_errors(predictions[method], truth, reference)
            timing[f"{method}_single"], timing[f"{method}_batched"] = time_rollout(fitted, x_test)
        static = self._quasistatic(info, test_index) if "quasistatic" in self.methods else None
        if static is not None:  # needs the cases' parameters: simulated data only
            predictions["quasistatic"] = static
            results["quasistatic"] = rollout_errors(static, truth, reference)
        timing["solver"] = time_solver(info, test_index, self.timing_cases, derive_seed(ctx.seed, "timing"))
        ctx.save_state(
            "deepfea", {"methods": [m for m in self.methods if m in ("nep", "cnn")], "dim": dim, "grid": list(grid)}
        )
        ctx.save_arrays("scaling", info["scaling"])
        metrics = self._metrics(results, timing)
        networks = self._networks_section(ctx, sizes, own, own_has_tf)
        return self._result(
            ctx, info, results, predictions, truth, reference, timing, metrics, model, own=own, networks=networks
        )

    def _quasistatic(self, info: dict[str, Any], test_index: np.ndarray) -> dict[str, np.ndarray] | None:
        params = info.get("case_params")
        if not params:
            return None
        from sciconv_deepfea.fea_simulator import FEACase, static_solution

        solutions = [static_solution(FEACase.from_record(params[i])) for i in test_index]
        return {k: np.stack([s[k] for s in solutions]) for k in ("dis_out", "eff_stress", "eff_strain")}

    def _metrics(self, results: dict[str, dict[str, Any]], timing: dict[str, float]) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for method, r in results.items():
            for key in ERROR_KEYS:
                metrics[f"{method}.{key}"] = float(r[key])
        if "nep_single" in timing and timing["solver"] == timing["solver"]:
            metrics["speedup"] = timing["solver"] / timing["nep_single"]
            metrics["speedup_batched"] = timing["solver"] / timing["nep_batched"]
            metrics["solver_time_s"] = timing["solver"]  # per case
            metrics["nep_time_s"] = timing["nep_single"]  # per case, one at a time
        return metrics

    # -- report ----------------------------------------------------------------------------------------------

    def _result(
        self,
        ctx: RunContext,
        info: dict[str, Any],
        results: dict[str, dict[str, Any]],
        predictions: dict[str, dict[str, np.ndarray]],
        truth: dict[str, np.ndarray],
        reference: np.ndarray,
        timing: dict[str, float],
        metrics: dict[str, float],
        model: Any,
        own: str | None = None,
        networks: str = "",
    ) -> TaskResult:
        labels, short = method_labels(own), short_names(own)
        rows = [
            ResultRow(
                labels[m],
                {
                    "node NME": f"{metrics[f'{m}.node_nme']:.4f}",
                    "node NRMSE": f"{metrics[f'{m}.node_nrmse']:.4f}",
                    "displacement NRMSE": f"{metrics[f'{m}.disp_nrmse']:.4f}",
                    "element NME": f"{metrics[f'{m}.elem_nme']:.4f}",
                    "element NRMSE": f"{metrics[f'{m}.elem_nrmse']:.4f}",
                    "displacement R²": f"{metrics[f'{m}.node_r2']:.4f}",
                    "element R²": f"{metrics[f'{m}.elem_r2']:.4f}",
                },
            )
            for m in results
        ]
        rows += [record.row() for record in published.CLAIMS]
        plots = []
        if ctx.config.output.plots and results:
            from sciconv_deepfea.fea_figures import plot_error_curves, plot_fields

            plots.append(
                (
                    plot_error_curves(results, labels, ctx.plots_dir / "error_vs_step.png"),
                    "Node and element NRMSE of the test cases at each step of the rollout (errors of a free-running "
                    "rollout accumulate; the quasi-static and frame baselines do not feed back).",
                )
            )
            case = min(self.plots_case, len(reference) - 1)
            plots.append(
                (
                    plot_fields(
                        predictions, truth, reference, case, info["dim"], ctx.plots_dir / "fields.png", labels=short
                    ),
                    f"Test case {info['cases']['test'][case]}: deformed meshes (displacements magnified) and "
                    "effective stress per element at three steps, the truth beside each method.",
                )
            )
        speed = [
            {"": "solver (scikit-fem, one case)", "s per case": f"{timing['solver']:.4f}", "speed-up": "1"},
        ]
        for m in ("nep", "cnn"):
            if f"{m}_single" in timing:
                speed.append(
                    {
                        "": f"{short[m]} rollout, one case",
                        "s per case": f"{timing[f'{m}_single']:.4f}",
                        "speed-up": f"{timing['solver'] / timing[f'{m}_single']:.1f}",
                    }
                )
                speed.append(
                    {
                        "": f"{short[m]} rollout, all test cases in one batch",
                        "s per case": f"{timing[f'{m}_batched']:.5f}",
                        "speed-up": f"{timing['solver'] / timing[f'{m}_batched']:.1f}",
                    }
                )
        per_case = [
            {"case": name, **{short[m]: f"{results[m]['node_nrmse_case'][i]:.4f}" for m in results}}
            for i, name in enumerate(info["cases"]["test"])
        ]
        sections = {} if not networks else {"Networks trained": networks}
        sections |= {
            "Speed against the solver": markdown_table(speed)
            + "\n\nOn the same machine and cases' grid and length; the solver factorises its matrix once per case "
            "and steps with a sparse solve, which on a small grid is already fast: the published two orders of "
            "magnitude come from meshes where the solver's cost dominates.",
            "Per-case displacement NRMSE (test cases)": markdown_table(per_case),
            "Published claims": published.NOTE,
        }
        return TaskResult(metrics=metrics, model=model, table=rows, plots=plots, sections=sections)

    def _networks_section(
        self, ctx: RunContext, sizes: dict[str, int], own: str | None, own_has_tf: bool | None
    ) -> str:
        """The report section on the networks this run trained: each with its own settings and size, and, for a
        network of the user's own in the pipeline model's place, what ran and how its metrics are keyed."""
        if not sizes:
            return ""
        labels = method_labels(own)
        lines = []
        if "nep" in sizes:
            source = (
                f"your own network, model.params {_params_text(ctx.model_params)}"
                if own is not None
                else f"`{ctx.config.model.name}`, model.params {_params_text(ctx.model_params)}"
            )
            lines.append(f"- `nep`: {labels['nep']}, {source}: {sizes['nep']:,} trainable parameters")
        if "cnn" in sizes:
            lines.append(
                f"- `cnn`: {labels['cnn']}, `{CNN_MODEL}` with `cnn_width={self.cnn_width}`, "
                f"`cnn_depth={self.cnn_depth}` (task.params): {sizes['cnn']:,} trainable parameters"
            )
        text = "\n".join(lines)
        if own is None:
            return text
        schedule = (
            f"{own} has a `teacher_forcing` attribute: the task set NELO's teacher-forcing probability on it before "
            f"each epoch ({self.tf_decay:g}^k after k periods of {self.tf_period} epochs, 0 below 0.01) and 0 for "
            "the rollouts."
            if own_has_tf
            else f"{own} has no `teacher_forcing` attribute: the task set one before each epoch all the same (NELO's "
            "scheduled sampling), which only a network whose forward reads it uses."
        )
        return (
            text
            + f"\n\n{own} ran in the place of the DeepFEA NEP net that the pipeline's description names: the rows, "
            f"columns, curves and panels named {own} are its results, and no NEP net was trained. The task keys the "
            f"pipeline's model as the method `nep`, so {own}'s metrics are the `nep.*` keys (with `speedup`, "
            f"`speedup_batched` and `nep_time_s`, which time its rollout), its weights `trained/nep.safetensors`, "
            f"and predict writes its cases under `nep/`. {schedule} The published row quotes the paper's NEP net, "
            f"not {own}."
        )

    # -- predict ---------------------------------------------------------------------------------------------

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Roll out every case (or the test split) with the run's networks from each case's initial state,
        boundary conditions and load history; write the predicted ``dis_out.npz`` and ``effective_out.npz`` per
        case in the official layout, and the errors where the truth is known.

        The inputs are scaled from the cases' physical values with the run's saved scaling (as the run scaled its
        training inputs), never with the new folder's own min/max files or ranges recomputed from the new cases:
        the predictions do not depend on them. Inputs beyond the run's training range are logged as a warning
        (how far, per channel) and predicted all the same."""
        import pandas as pd
        import torch

        state = ctx.load_state("deepfea")
        info = bundle.info
        dim, grid = int(state["dim"]), tuple(state["grid"])
        if tuple(info["grid"]) != grid:
            raise DataError(f"the run trained on a {grid} grid; these cases are on {tuple(info['grid'])}")
        scaling = ctx.load_arrays("scaling")
        split = info["split"]  # ctx.samples gives the test split, or train, val and test in that order
        index = (
            np.asarray(split["test"])
            if ctx.split == "test"
            else np.concatenate([split[k] for k in ("train", "val", "test")])
        )
        ctx.samples(bundle)  # refuses a missing test split or data without samples
        dis_in = np.asarray(info["physical"]["dis_in"])[index]
        beyond = inputs_beyond_scaling(dis_in, scaling, dim)
        if beyond:
            ctx.log(
                f"warning: inputs of these {len(index)} cases reach outside the range the run trained on (its "
                "scaling maps them beyond [-1, 1]; the networks extrapolate there): " + "; ".join(beyond)
            )
        x = torch.from_numpy(scale_inputs(dis_in, scaling, dim))
        truth = {k: info["physical"][k][index] for k in ("dis_out", "eff_stress", "eff_strain")}
        reference = info["physical"]["dis_in"][index][:, 0, :dim]
        names = [info["cases_all"][i] for i in index]
        metrics: dict[str, float] = {}
        rows = []
        files = []
        sections: dict[str, str] = {}
        own = ctx.own_model_name() if "nep" in state["methods"] else None
        if own is not None:
            ctx.log(f"nep: {method_labels(own)['nep']}, model.params {_params_text(ctx.model_params)}")
            sections["The pipeline's model"] = (
                f"The method `nep` is {own} (the pipeline's model, your own network; model.params "
                f"{_params_text(ctx.model_params)}), not the DeepFEA NEP net: its cases are under `nep/`, its "
                "metrics are the `nep.*` keys and its rows in `cases.csv` have method `nep`."
            )
        for method in state["methods"]:
            name = None if method == "nep" else CNN_MODEL
            params = {} if method == "nep" else {"width": self.cnn_width, "depth": self.cnn_depth}
            net = ctx.build_model(bundle.spec, name=name, **params) if name else ctx.build_model(bundle.spec)
            net = ctx.load_weights(method, net)
            pred = unscale_targets(rollout(net, x, ctx.config.train.batch_size), scaling, dim, grid)
            errors = rollout_errors(pred, truth, reference)
            for key in ERROR_KEYS:
                metrics[f"{method}.{key}"] = float(errors[key])
            for i, case in enumerate(names):
                rows.append({"case": case, "method": method, "node_nrmse": float(errors["node_nrmse_case"][i])})
                folder = ctx.out_dir / method / case
                folder.mkdir(parents=True, exist_ok=True)
                np.savez(folder / "dis_out.npz", arr_0=pred["dis_out"][i].astype(np.float32))
                np.savez(
                    folder / "effective_out.npz",
                    eff_stress=pred["eff_stress"][i].astype(np.float32),
                    eff_strain=pred["eff_strain"][i].astype(np.float32),
                )
                files += [folder / "dis_out.npz", folder / "effective_out.npz"]
        return PredictionResult(tables={"cases": pd.DataFrame(rows)}, metrics=metrics, files=files, sections=sections)


def _params_text(params: dict[str, Any]) -> str:
    """``model.params`` as the report writes them: ``width=8, depth=2`` in backticks, or ``none (its defaults)``."""
    return ", ".join(f"`{k}={v!r}`" for k, v in params.items()) or "none (its defaults)"


def inputs_beyond_scaling(dis_in: np.ndarray, scaling: dict[str, np.ndarray], dim: int) -> list[str]:
    """Where physical inputs fall outside the ranges of a run's scaling, one line per channel beyond them.

    Args:
        dis_in: ``(N, T, 2 dim + 1, *grid)`` node coordinates (m), nodal loads (N) and the boundary mask.
        scaling: the run's min/max arrays: ``dis_c_min`` / ``dis_c_max`` ``(dim,)`` per coordinate channel,
            ``dis_f_min`` / ``dis_f_max`` ``(dim,)`` per load channel.
        dim: 2 or 3.

    Returns:
        e.g. ``"y coordinate: -0.01 to 1.2 m, training range 0 to 1 m (20% of that range beyond it)"``; empty when
        every coordinate and load lies within the training range (the mask is 0/1 whatever the data).
    """
    axes = "xyz"[:dim]
    reduce = tuple(i for i in range(dis_in.ndim) if i != 2)
    lines = []
    for prefix, first, what, unit in (("dis_c", 0, "coordinate", "m"), ("dis_f", dim, "load", "N")):
        values = np.asarray(dis_in[:, :, first : first + dim], dtype=np.float64)
        if values.size == 0:
            continue
        new_lo, new_hi = values.min(axis=reduce), values.max(axis=reduce)
        lo = np.broadcast_to(np.asarray(scaling[f"{prefix}_min"], dtype=np.float64).reshape(-1), (dim,))
        hi = np.broadcast_to(np.asarray(scaling[f"{prefix}_max"], dtype=np.float64).reshape(-1), (dim,))
        for c in range(dim):
            span = hi[c] - lo[c]
            excess = max(lo[c] - new_lo[c], new_hi[c] - hi[c], 0.0)
            if excess <= 1e-6 * max(span, abs(lo[c]), abs(hi[c]), 1e-30):
                continue
            far = (
                f"{100 * excess / span:.3g}% of that range beyond it"
                if span > 0
                else f"up to {excess:.4g} {unit} from the one value the run saw: its scaling maps them all to 0"
            )
            lines.append(
                f"{axes[c]} {what}: {new_lo[c]:.4g} to {new_hi[c]:.4g} {unit}, training range {lo[c]:.4g} to "
                f"{hi[c]:.4g} {unit} ({far})"
            )
    return lines


def rollout(model: Any, x: Any, batch_size: int) -> np.ndarray:
    """The free-running rollout of ``model`` (eval mode, no gradients) on inputs ``(N, T, C, *grid)``: scaled
    outputs ``(N, T, F)``."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(x[start : start + batch_size]).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0,))


def time_rollout(model: Any, x: Any, repeats: int = 3) -> tuple[float, float]:
    """Seconds per case of the rollout: one case at a time, and all cases in one batch (best of ``repeats``)."""
    import torch

    model.eval()
    single, batched = [], []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(len(x)):
                model(x[i : i + 1])
            single.append((time.perf_counter() - start) / len(x))
            start = time.perf_counter()
            model(x)
            batched.append((time.perf_counter() - start) / len(x))
    return min(single), min(batched)


def time_solver(info: dict[str, Any], test_index: np.ndarray, n_cases: int, seed: int) -> float:
    """Seconds per case of the scikit-fem solver (assembly, factorisation, the Newmark steps, element fields): the
    median over the first ``n_cases`` test cases themselves where their parameters are known (simulated data), else
    over ``n_cases`` cases drawn like the data (the run's grid and steps)."""
    from sciconv_deepfea.fea_simulator import FEACase, draw_case, solve_case

    params = info.get("case_params")
    if params:
        cases = [FEACase.from_record(params[i]) for i in test_index[:n_cases]]
    else:
        rng = np.random.default_rng(seed)
        n_steps = int(info["physical"]["dis_in"].shape[1])
        cases = [
            draw_case(rng, grid=tuple(info["grid"]), n_steps=n_steps, dim=int(info["dim"])) for _ in range(n_cases)
        ]
    times = []
    for case in cases:
        start = time.perf_counter()
        solve_case(case)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
