"""Training MOGONET (:mod:`~sciconv_omics_sguq.models.mogonet`): the official code's full-batch, two-phase
schedule, one model (:func:`train_mogonet`), an ensemble's members side by side (:func:`train_mogonet_members`)
or SGUQ's nested stages together (:func:`train_mogonet_stages`), and the fitted model with what inference needs
(:class:`FittedMOGONET`).

This is MOGONET's own published training procedure (full-batch passes over the patient graphs, per-view and
VCDN Adam steps), not the core engine's mini-batch loop, and it is written out by hand for speed; the
networks it trains come from the registered model factory when the caller passes ``build`` (the SGUQ task
does), or are built here from the same classes.

**Training** (:func:`train_mogonet`), full batch on the training graph, as the official code does:

1. pre-training, ``epochs_pretrain`` (500) epochs: for each view one Adam step (lr ``lr_pretrain``,
   1e-3) on its GCN + classifier with its own cross-entropy;
2. ``epochs`` (2500) epochs with fresh Adam optimisers: for each view one step (lr ``lr_gcn``, 5e-4) on its
   GCN + classifier, then, with ``V >= 2``, one step (lr ``lr_vcdn``, 1e-3) on the VCDN alone with the
   cross-entropy of its output on all views' current outputs (computed in training mode, with
   dropout, as in the official code; the GCNs are not updated by this loss). The official loop runs
   ``range(num_epoch + 1)``, one epoch more; the difference is immaterial and not reproduced.

Every cross-entropy is ``mean_i(w_i CE_i)`` with the official code's sample weights ``w_i = n_{y_i} / N``,
the *frequency* of sample ``i``'s class (not its inverse; the paper does not mention a weighting).
``sample_weight="none"`` uses ``w_i = 1``. On ROSMAP's nearly balanced classes the weights are about
0.5 for everyone, which Adam's scale invariance makes almost irrelevant.

**Inference** (:meth:`FittedMOGONET.predict_proba`): each view's training-then-test graph
(:func:`~sciconv_omics_sguq.patient_graph.train_test_graph`: training threshold, no test-test edges and, as
in the official code, no training-training edges unless ``train_edges=True``), all views in evaluation
mode, softmax of the fused logits at the test nodes.

**Determinism.** Each view has random streams of its own, derived from ``seed`` and the view's key
(``view_keys``, e.g. the omics' name): its initial weights (a ``torch.Generator``), its dropout masks in its own
steps and those in the forward passes the VCDN step sees (two numpy PCG64 streams, :class:`DropoutMasks`); a
VCDN's initial weights derive from the keys of the views it fuses. So a seed gives the same model on CPU
whatever the global RNG holds, and a view's GCN the same network in every model that holds it (its training
depends on nothing else: the GCNs learn from their own losses only), which
:func:`train_mogonet_stages` uses to train SGUQ's nested stages together. The global RNG is not seeded, and
the throw-away default initialisation drawn while the modules are built runs inside
``torch.random.fork_rng``, so the caller's RNG stream is untouched.
Training runs single-threaded (``torch.set_num_threads(1)``, restored afterwards; ``num_threads``
overrides): with matrices this small (~250 x 200) two threads were no faster on an idle 2-core machine
(29.6 s against 31.4 s for the full schedule) and several times slower on a busy one, and one thread leaves
the other cores to parallel jobs (folds, seeds). Adam is torch's fused CPU implementation, and dropout at
``p = 0.5`` draws one random bit per entry (:class:`DropoutMasks`), several times faster than
``F.dropout``'s Bernoulli sampling. The full ROSMAP-sized schedule (3 views, 245 x 200, 500 + 2500 epochs)
takes about 30 s on one core.

**Ensembles** (:func:`train_mogonet_members`): the members of an ensemble (one model per seed, same data)
train side by side in one run, with the forward and backward passes written out by hand, the dense products
in oneDNN and the graph, its first-layer aggregation and the Adam steps shared; each member is the model
:func:`train_mogonet` trains with its seed, to float32 rounding (the same initial weights exactly, the same
dropout masks, the same Adam updates), and bit for bit the same whichever members it is trained with. The
full ROSMAP-sized schedule of 10 stage-3 members took 150 s on one core, against 297 s for ten
:func:`train_mogonet` runs. Rounding is all that differs, but the training is chaotic: a one-ulp change of a
single input value makes :func:`train_mogonet`'s own losses differ by ~1e-2 after 200 epochs, and over the
full schedule members trained either way differ like models of different seeds (test probabilities up to
~0.9 apart, the same accuracy on average); on short schedules they agree to ~1e-6.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed, torch_threads
from sciconv_omics_sguq.models.mogonet import LEAKY_SLOPE, MOGONET, VCDN, VCDN_INPUTS, DropoutMasks, GCNEncoder, Graph
from sciconv_omics_sguq.patient_graph import train_graph, train_test_graph

__all__ = [
    "FittedMOGONET",
    "class_frequency_weights",
    "train_mogonet",
    "train_mogonet_members",
    "train_mogonet_stages",
]

_SAMPLE_WEIGHTS = ("frequency", "none")


def class_frequency_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """MOGONET's sample weights: each sample weighs the frequency ``n_c / N`` of its class ``c``."""
    counts = np.bincount(y, minlength=n_classes)
    return counts[y] / counts.sum()


# ---------------------------------------------------------------------------------------------------------
# validation


def _as_views(views: object, name: str) -> list[np.ndarray]:
    if isinstance(views, np.ndarray) or not isinstance(views, Sequence) or len(views) == 0:
        raise DataError(f"{name}: expected a non-empty list of 2D arrays (one per omics type), got {type(views)}")
    out = []
    for v, x in enumerate(views):
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise DataError(f"{name}[{v}]: expected a 2D array (samples x features), got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise DataError(f"{name}[{v}]: expected real numbers, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise DataError(f"{name}[{v}]: expected finite values, found {int((~np.isfinite(arr)).sum())} NaN or inf")
        out.append(arr.astype(np.float32, copy=False))
    counts = [x.shape[0] for x in out]
    if len(set(counts)) > 1:
        raise DataError(
            f"{name}: every view must hold the same samples in the same order, got sample counts {counts} "
            "(MOGONET needs complete multi-omics data)"
        )
    return out


def _as_labels(y: object, n: int, n_classes: int | None) -> tuple[np.ndarray, int]:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"y_train: expected {n} labels (one per training sample), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"y_train: expected integer class labels, got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
        raise DataError("y_train: expected integer class labels 0 .. C-1, found non-integer values")
    labels = arr.astype(np.int64)
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    elif isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise ConfigError(f"n_classes: expected an integer >= 2, got {n_classes!r}")
    if n_classes < 2:
        raise ConfigError(f"n_classes: expected at least 2 classes, got {n_classes}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataError(
            f"y_train: labels must lie in 0 .. {n_classes - 1}, got values from {labels.min()} to {labels.max()}"
        )
    return labels, int(n_classes)


def _check_config(
    hidden: Sequence[int], dropout: float, epochs: Mapping[str, int], lrs: Mapping[str, float], **choices: str
) -> tuple[int, ...]:
    hidden = tuple(hidden)
    if not hidden or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden):
        raise ConfigError(f"hidden: expected one or more positive layer sizes, got {hidden!r}")
    if not (isinstance(dropout, numbers.Real) and 0.0 <= dropout < 1.0):
        raise ConfigError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
    for name, value in epochs.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
    for name, value in lrs.items():
        if not (isinstance(value, numbers.Real) and np.isfinite(value) and value > 0):
            raise ConfigError(f"{name}: expected a positive learning rate, got {value!r}")
    allowed = {"vcdn_input": VCDN_INPUTS, "sample_weight": _SAMPLE_WEIGHTS}
    for name, value in choices.items():
        if value not in allowed[name]:
            raise ConfigError(f"{name}: expected one of {allowed[name]}, got {value!r}")
    return tuple(int(h) for h in hidden)


def _check_view_keys(view_keys: Sequence[str] | None, n_views: int) -> tuple[str, ...]:
    if view_keys is None:
        return tuple(str(v) for v in range(n_views))
    if isinstance(view_keys, str) or not isinstance(view_keys, Sequence):
        raise ConfigError(f"view_keys: expected a list of {n_views} names (one per view), got {view_keys!r}")
    keys = tuple(view_keys)
    if len(keys) != n_views or not all(isinstance(k, str) and k for k in keys) or len(set(keys)) != n_views:
        raise ConfigError(f"view_keys: expected {n_views} distinct non-empty names (one per view), got {list(keys)}")
    return keys


def _check_fusions(fusions: object, n_views: int) -> tuple[tuple[int, ...], ...]:
    if isinstance(fusions, (str, bytes)) or not isinstance(fusions, Sequence) or not fusions:
        raise ConfigError(f"fusions: expected a non-empty list of view index lists, got {fusions!r}")
    out = []
    for f in fusions:
        views = tuple(f) if isinstance(f, Sequence) and not isinstance(f, (str, bytes)) else None
        if (
            not views
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v < n_views for v in views)
            or len(set(views)) != len(views)
        ):
            raise ConfigError(
                f"fusions: each fusion is a list of distinct view indices in 0 .. {n_views - 1}, got {f!r}"
            )
        out.append(tuple(int(v) for v in views))
    if len(set(out)) != len(out):
        raise ConfigError(f"fusions: expected distinct fusions, got {[list(f) for f in out]}")
    unused = sorted(set(range(n_views)) - {v for f in out for v in f})
    if unused:
        raise ConfigError(f"fusions: view(s) {unused} are in no fusion (train them in no model)")
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# training and inference


@dataclass
class FittedMOGONET:
    """A trained MOGONET with what inference needs: the training samples and graph thresholds.

    MOGONET is transductive: test patients are classified through their links to training patients,
    so the training samples travel with the weights. :meth:`state_dict` gives everything as tensors
    (safetensors-ready) and :meth:`from_state_dict` rebuilds the model from it.

    Attributes:
        model: the network (in evaluation mode).
        train_views: float32 training samples, one ``(N_train, F_v)`` tensor per view.
        thresholds: each view's adaptive graph threshold (cosine distance).
        train_edges: whether test graphs keep the training-training edges (MOGONET: no).
        history: per-epoch losses: ``"pretrain_view{v}"``, ``"view{v}"`` and, with ``V >= 2``, ``"vcdn"``.
    """

    model: MOGONET
    train_views: list[Tensor]
    thresholds: list[float]
    train_edges: bool = False
    history: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return self.model.n_classes

    def _test_inputs(self, views_test: Sequence[np.ndarray]) -> tuple[list[Graph], int]:
        views = _as_views(views_test, "views_test")
        if len(views) != len(self.train_views):
            raise DataError(f"views_test: expected {len(self.train_views)} views as in training, got {len(views)}")
        for v, (x_te, x_tr) in enumerate(zip(views, self.train_views, strict=True)):
            if x_te.shape[1] != x_tr.shape[1]:
                raise DataError(
                    f"views_test[{v}]: expected the {x_tr.shape[1]} features the model was trained on, "
                    f"got {x_te.shape[1]}"
                )
        graphs = []
        for x_te, x_tr, threshold in zip(views, self.train_views, self.thresholds, strict=True):
            x_tr_np = x_tr.numpy()
            ei, ew = train_test_graph(x_tr_np, x_te, threshold, train_edges=self.train_edges)
            graphs.append((torch.from_numpy(np.concatenate([x_tr_np, x_te])), ei, ew))
        return graphs, len(self.train_views[0])

    @torch.no_grad()
    def _logits(self, views_test: Sequence[np.ndarray]) -> tuple[list[Tensor], Tensor]:
        graphs, n_train = self._test_inputs(views_test)
        self.model.eval()
        logits, fused = self.model(graphs)
        return [lg[n_train:] for lg in logits], fused[n_train:]

    def predict_proba(self, views_test: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N_test, C)`` of test samples: softmax of the fused (VCDN) logits.

        Args:
            views_test: one ``(N_test, F_v)`` array per view, with the training features, the same samples
                in the same order in every view.
        """
        return torch.softmax(self._logits(views_test)[1], dim=1).numpy().astype(np.float64)

    def predict_view_proba(self, views_test: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each view's own class probabilities ``(N_test, C)`` (softmax of its GCN classifier)."""
        return [torch.softmax(lg, dim=1).numpy().astype(np.float64) for lg in self._logits(views_test)[0]]

    def state_dict(self) -> dict[str, Tensor]:
        """Weights, training samples, thresholds and architecture, as a flat dict of tensors."""
        state = {f"model.{k}": v.detach().clone() for k, v in self.model.state_dict().items()}
        for v, x in enumerate(self.train_views):
            state[f"train_views.{v}"] = x.clone()
        enc = self.model.encoders[0]
        vcdn = self.model.vcdn
        state["meta.thresholds"] = torch.tensor(self.thresholds, dtype=torch.float64)
        state["meta.hidden"] = torch.tensor([c.out_channels for c in enc.convs], dtype=torch.int64)
        state["meta.dropout"] = torch.tensor(enc.dropout, dtype=torch.float64)
        state["meta.n_classes"] = torch.tensor(self.n_classes, dtype=torch.int64)
        state["meta.train_edges"] = torch.tensor(int(self.train_edges), dtype=torch.int64)
        state["meta.vcdn_hidden"] = torch.tensor(0 if vcdn is None else vcdn.mlp[0].out_features, dtype=torch.int64)
        state["meta.vcdn_input"] = torch.tensor(0 if vcdn is None else VCDN_INPUTS.index(vcdn.vcdn_input))
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor]) -> FittedMOGONET:
        """Rebuild a fitted model from :meth:`state_dict`'s output (e.g. read back from safetensors)."""
        try:
            n_views = sum(1 for k in state if k.startswith("train_views."))
            train_views = [state[f"train_views.{v}"].to(torch.float32) for v in range(n_views)]
            with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten
                model = MOGONET(
                    [x.shape[1] for x in train_views],
                    int(state["meta.n_classes"]),
                    hidden=[int(h) for h in state["meta.hidden"]],
                    dropout=float(state["meta.dropout"]),
                    vcdn_hidden=int(state["meta.vcdn_hidden"]) or None,
                    vcdn_input=VCDN_INPUTS[int(state["meta.vcdn_input"])],
                )
            model.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
            thresholds = [float(t) for t in state["meta.thresholds"]]
            train_edges = bool(int(state["meta.train_edges"]))
        except (KeyError, IndexError, RuntimeError, ValueError) as exc:
            raise DataError(f"MOGONET state: not a state written by FittedMOGONET.state_dict ({exc})") from exc
        if n_views == 0 or len(thresholds) != n_views:
            raise DataError(f"MOGONET state: {n_views} training views but {len(thresholds)} thresholds")
        return cls(model.eval(), train_views, thresholds, train_edges)


Builder = Callable[[int], MOGONET]
"""``build(f)``: a fresh :class:`~sciconv_omics_sguq.models.mogonet.MOGONET` over the views of fusion ``f`` (in the
fusion's order), such as the registered model factory's (its weights are drawn again from the member's streams)."""


def _stream_seed(seed: int, kind: str, key: str) -> int:
    """The seed of one of a member's random streams: ``kind`` (``init``, ``dropout``, ``fusion-dropout``,
    ``vcdn-init``) of the view (or views) ``key``."""
    return derive_seed(seed, f"mogonet/{kind}/{key}")


@dataclass
class _Nets:
    """One member's networks and random streams (:meth:`_Prepared.new_member`).

    ``encoders[v]``, ``classifiers[v]``: view ``v``'s GCN and classifier; ``vcdns[f]``: the VCDN of fusion ``f``
    (fusions of two or more views); ``view_masks[v]``: the dropout of view ``v``'s own training steps;
    ``fusion_masks[v]``: the dropout of view ``v``'s forward passes in the VCDN steps."""

    encoders: list[GCNEncoder]
    classifiers: list[nn.Linear]
    vcdns: dict[int, VCDN]
    view_masks: list[DropoutMasks]
    fusion_masks: list[DropoutMasks]

    def model(self, f: int, views: Sequence[int]) -> MOGONET:
        """Fusion ``f`` (of ``views``) as a MOGONET sharing these modules."""
        return MOGONET.from_parts(
            [self.encoders[v] for v in views], [self.classifiers[v] for v in views], self.vcdns.get(f)
        )


@dataclass
class _Prepared:
    """Validated training data, each view's training graph, the sample weights and the architecture."""

    views: list[np.ndarray]
    labels: np.ndarray
    n_classes: int
    graphs: list[Graph]
    thresholds: list[float]
    weight: Tensor
    hidden: tuple[int, ...]
    dropout: float
    vcdn_hidden: int | None
    vcdn_input: str

    def new_member(
        self,
        seed: int,
        view_keys: Sequence[str],
        fusions: Sequence[tuple[int, ...]],
        build: Builder | None = None,
    ) -> _Nets:
        """A freshly initialised member: a GCN + classifier per view and a VCDN per fusion of two or more views.

        With ``build``, the modules are those of the models ``build(f)`` gives (view ``v``'s GCN and classifier
        from the first fusion that holds it, each fusion's VCDN from its own model); without, they are built
        here from the same classes. Either way every weight is then drawn afresh: every random draw comes from
        a stream of its own, derived from ``seed`` and the view's key (see :func:`_stream_seed`): view ``v``'s
        initial weights (a ``torch.Generator``), its dropout masks in its own steps and those in the forward
        passes the VCDN steps see (two :class:`DropoutMasks`); a VCDN's initial weights from the keys of its
        views. The throw-away initialisation drawn while the modules are built comes from the global RNG,
        restored afterwards.
        """
        with torch.random.fork_rng(devices=[]):
            if build is None:
                encoders = [GCNEncoder(x.shape[1], self.hidden, self.dropout) for x in self.views]
                classifiers = [nn.Linear(self.hidden[-1], self.n_classes) for _ in self.views]
                vcdns = {
                    f: VCDN(len(views), self.n_classes, self.vcdn_hidden, self.vcdn_input)
                    for f, views in enumerate(fusions)
                    if len(views) >= 2
                }
            else:
                encoders, classifiers, vcdns = self._built_modules(fusions, build)
        for v, key in enumerate(view_keys):
            generator = torch.Generator().manual_seed(_stream_seed(seed, "init", key))
            encoders[v].reset_parameters(generator)
            nn.init.xavier_normal_(classifiers[v].weight, generator=generator)
            nn.init.zeros_(classifiers[v].bias)
        for f, vcdn in vcdns.items():
            keys = "+".join(view_keys[v] for v in fusions[f])
            vcdn.reset_parameters(torch.Generator().manual_seed(_stream_seed(seed, "vcdn-init", keys)))
        return _Nets(
            encoders,
            classifiers,
            vcdns,
            [DropoutMasks(_stream_seed(seed, "dropout", key)) for key in view_keys],
            [DropoutMasks(_stream_seed(seed, "fusion-dropout", key)) for key in view_keys],
        )

    def _built_modules(
        self, fusions: Sequence[tuple[int, ...]], build: Builder
    ) -> tuple[list[GCNEncoder], list[nn.Linear], dict[int, VCDN]]:
        """The modules of ``build(f)`` for every fusion ``f``, checked against the training settings."""
        encoders: dict[int, GCNEncoder] = {}
        classifiers: dict[int, nn.Linear] = {}
        vcdns: dict[int, VCDN] = {}
        for f, views in enumerate(fusions):
            model = build(f)
            self._check_built(model, f, views)
            for j, v in enumerate(views):
                if v not in encoders:
                    encoders[v], classifiers[v] = model.encoders[j], model.classifiers[j]
            if model.vcdn is not None:
                vcdns[f] = model.vcdn
        return [encoders[v] for v in range(len(self.views))], [classifiers[v] for v in range(len(self.views))], vcdns

    def _check_built(self, model: object, f: int, views: tuple[int, ...]) -> None:
        """``model`` is a MOGONET over ``views`` with the architecture of the training settings."""
        if not isinstance(model, MOGONET) or model.n_views != len(views):
            raise ConfigError(
                f"build({f}): expected a MOGONET over {len(views)} views, got {type(model).__name__}"
                + (f" over {model.n_views}" if isinstance(model, MOGONET) else "")
            )
        width = self.vcdn_hidden or self.n_classes ** len(views)
        found = {
            "in_features": [int(enc.convs[0].in_channels) for enc in model.encoders],
            "hidden": [tuple(int(c.out_channels) for c in enc.convs) for enc in model.encoders],
            "dropout": [float(enc.dropout) for enc in model.encoders],
            "n_classes": int(model.n_classes),
            "vcdn": None if model.vcdn is None else (int(model.vcdn.mlp[0].out_features), model.vcdn.vcdn_input),
        }
        expected = {
            "in_features": [int(self.views[v].shape[1]) for v in views],
            "hidden": [self.hidden] * len(views),
            "dropout": [self.dropout] * len(views),
            "n_classes": self.n_classes,
            "vcdn": (width, self.vcdn_input) if len(views) >= 2 else None,
        }
        if found != expected:
            raise ConfigError(
                f"build({f}): the model's architecture {found} differs from the training settings {expected}"
            )

    def train_views(self) -> list[Tensor]:
        return [torch.from_numpy(x.copy()) for x in self.views]


def _prepare(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    n_classes: int | None,
    hidden: Sequence[int],
    k: int,
    epochs: Mapping[str, int],
    lrs: Mapping[str, float],
    dropout: float,
    vcdn_hidden: int | None,
    vcdn_input: str,
    sample_weight: str,
    num_threads: int | None,
) -> _Prepared:
    """Check the data and settings of a training run and build each view's training graph."""
    views = _as_views(views_train, "views_train")
    labels, n_classes = _as_labels(y_train, views[0].shape[0], n_classes)
    hidden = _check_config(hidden, dropout, epochs, lrs, vcdn_input=vcdn_input, sample_weight=sample_weight)
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
    ):
        raise ConfigError(f"num_threads: expected an integer >= 1 or None, got {num_threads!r}")
    if vcdn_hidden is not None and (
        isinstance(vcdn_hidden, bool) or not isinstance(vcdn_hidden, numbers.Integral) or vcdn_hidden < 1
    ):
        raise ConfigError(f"vcdn_hidden: expected an integer >= 1 or None (C^V), got {vcdn_hidden!r}")

    graphs: list[Graph] = []
    thresholds: list[float] = []
    for v, x in enumerate(views):
        try:
            ei, ew, threshold = train_graph(x, k)
        except DataError as exc:
            raise DataError(f"views_train[{v}]: {exc}") from exc
        graphs.append((torch.from_numpy(x), ei, ew))
        thresholds.append(threshold)
    if sample_weight == "frequency":
        weight = torch.from_numpy(class_frequency_weights(labels, n_classes).astype(np.float32))
    else:
        weight = torch.ones(len(labels))
    return _Prepared(
        views, labels, n_classes, graphs, thresholds, weight, hidden, float(dropout), vcdn_hidden, vcdn_input
    )


def train_mogonet(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    seed: int,
    n_classes: int | None = None,
    hidden: Sequence[int] = (200, 200, 100),
    k: int = 2,
    epochs_pretrain: int = 500,
    epochs: int = 2500,
    lr_pretrain: float = 1e-3,
    lr_gcn: float = 5e-4,
    lr_vcdn: float = 1e-3,
    dropout: float = 0.5,
    vcdn_hidden: int | None = None,
    vcdn_input: str = "sigmoid",
    sample_weight: str = "frequency",
    train_edges: bool = False,
    num_threads: int | None = 1,
    view_keys: Sequence[str] | None = None,
    on_epoch: Callable[[str, int, dict[str, float]], None] | None = None,
) -> FittedMOGONET:
    """Train MOGONET full-batch on the training patients' graphs, with the official two-phase schedule.

    Args:
        views_train: one ``(N, F_v)`` array per omics type, the same N patients in the same order.
        y_train: ``(N,)`` integer labels in ``0 .. C-1``.
        seed: seeds the initialisation and dropout (the caller's RNG state is restored afterwards).
        n_classes: ``C``; default ``max(y_train) + 1``.
        hidden: GCN layer sizes (ROSMAP ``(200, 200, 100)``).
        k: average edges per node of the patient graphs, self loop included (ROSMAP 2, BRCA 10).
        epochs_pretrain, epochs: epochs of the two phases (500, 2500).
        lr_pretrain, lr_gcn, lr_vcdn: Adam learning rates (1e-3, 5e-4, 1e-3).
        dropout: GCN dropout (0.5).
        vcdn_hidden: VCDN hidden width (default ``C^V``).
        vcdn_input: ``"sigmoid"`` (official code) or ``"softmax"``.
        sample_weight: ``"frequency"`` (official code, ``w_i = n_{y_i} / N``) or ``"none"``.
        train_edges: test graphs keep training-training edges (official: ``False``).
        num_threads: torch threads during training (restored afterwards); ``None`` leaves them alone.
        view_keys: a name per view (default ``"0"``, ``"1"``, ...). View ``v``'s random streams (initial
            weights, dropout masks) are derived from ``seed`` and its key, so a view's GCN trains the same in
            any model that holds it (the GCNs are trained by their own losses only): the GCN of a model of
            views ``(a, b)`` is, to rounding, that of a model of views ``(a,)`` with the same seed and keys.
        on_epoch: called as ``on_epoch(phase, epoch, losses)`` after every epoch, phase ``"pretrain"``
            or ``"train"``, losses keyed ``"view{v}"`` and ``"vcdn"``.

    Returns:
        The fitted model; :meth:`FittedMOGONET.predict_proba` classifies new patients.

    Raises:
        DataError: views of different sample counts, bad values, labels out of range.
        ConfigError: bad hyperparameters.
    """
    prepared = _prepare(
        views_train,
        y_train,
        n_classes=n_classes,
        hidden=hidden,
        k=k,
        epochs={"epochs_pretrain": epochs_pretrain, "epochs": epochs},
        lrs={"lr_pretrain": lr_pretrain, "lr_gcn": lr_gcn, "lr_vcdn": lr_vcdn},
        dropout=dropout,
        vcdn_hidden=vcdn_hidden,
        vcdn_input=vcdn_input,
        sample_weight=sample_weight,
        num_threads=num_threads,
    )
    everything = tuple(range(len(prepared.views)))
    nets = prepared.new_member(seed, _check_view_keys(view_keys, len(everything)), [everything])
    model = nets.model(0, everything)
    try:
        with torch_threads(num_threads):
            history = _fit(
                model,
                prepared.graphs,
                _WeightedCE(torch.from_numpy(prepared.labels), prepared.weight),
                (epochs_pretrain, epochs),
                (lr_pretrain, lr_gcn, lr_vcdn),
                on_epoch,
                (nets.view_masks, nets.fusion_masks),
            )
    finally:
        model.set_dropout_masks(None)
    model.eval()
    return FittedMOGONET(model, prepared.train_views(), prepared.thresholds, train_edges, history)


@dataclass
class _WeightedCE:
    """``mean_i(w_i CE(logits_i, y_i))``, MOGONET's loss."""

    target: Tensor
    weight: Tensor

    def __call__(self, logits: Tensor) -> Tensor:
        return (F.cross_entropy(logits, self.target, reduction="none") * self.weight).mean()


def _fit(
    model: MOGONET,
    graphs: list[Graph],
    loss_of: _WeightedCE,
    epochs: tuple[int, int],
    lrs: tuple[float, float, float],
    on_epoch: Callable[[str, int, dict[str, float]], None] | None,
    masks: tuple[list[DropoutMasks], list[DropoutMasks]],
) -> dict[str, np.ndarray]:
    """The two training phases; returns the per-epoch losses. ``masks``: each view's dropout source in its own
    steps and in the VCDN steps' forward passes."""
    n_views = model.n_views
    history: dict[str, list[float]] = {f"{p}view{v}": [] for p in ("pretrain_", "") for v in range(n_views)}
    if model.vcdn is not None:
        history["vcdn"] = []
    model.train()

    def view_steps(optimisers: list[torch.optim.Adam], prefix: str) -> dict[str, float]:
        model.set_dropout_masks(masks[0])
        losses = {}
        for v, opt in enumerate(optimisers):
            opt.zero_grad()
            loss = loss_of(model.view_logits(v, *graphs[v]))
            loss.backward()
            opt.step()
            losses[f"view{v}"] = loss.item()
            history[f"{prefix}view{v}"].append(losses[f"view{v}"])
        return losses

    def view_optimisers(lr: float) -> list[torch.optim.Adam]:
        return [
            torch.optim.Adam([*model.encoders[v].parameters(), *model.classifiers[v].parameters()], lr=lr, fused=True)
            for v in range(n_views)
        ]

    optimisers = view_optimisers(lrs[0])
    for epoch in range(epochs[0]):
        losses = view_steps(optimisers, "pretrain_")
        if on_epoch is not None:
            on_epoch("pretrain", epoch, losses)

    optimisers = view_optimisers(lrs[1])
    vcdn_opt = torch.optim.Adam(model.vcdn.parameters(), lr=lrs[2], fused=True) if model.vcdn is not None else None
    for epoch in range(epochs[1]):
        losses = view_steps(optimisers, "")
        if vcdn_opt is not None:
            model.set_dropout_masks(masks[1])
            with torch.no_grad():  # the VCDN's loss updates the VCDN only: no gradients into the GCNs
                logits = [model.view_logits(v, *g) for v, g in enumerate(graphs)]
            vcdn_opt.zero_grad()
            loss = loss_of(model.fuse(logits))
            loss.backward()
            vcdn_opt.step()
            losses["vcdn"] = loss.item()
            history["vcdn"].append(losses["vcdn"])
        if on_epoch is not None:
            on_epoch("train", epoch, losses)
    return {name: np.asarray(values) for name, values in history.items()}


# ---------------------------------------------------------------------------------------------------------
# ensembles: several members trained together


def train_mogonet_members(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    seeds: Sequence[int],
    n_classes: int | None = None,
    hidden: Sequence[int] = (200, 200, 100),
    k: int = 2,
    epochs_pretrain: int = 500,
    epochs: int = 2500,
    lr_pretrain: float = 1e-3,
    lr_gcn: float = 5e-4,
    lr_vcdn: float = 1e-3,
    dropout: float = 0.5,
    vcdn_hidden: int | None = None,
    vcdn_input: str = "sigmoid",
    sample_weight: str = "frequency",
    train_edges: bool = False,
    num_threads: int | None = 1,
    view_keys: Sequence[str] | None = None,
    on_epoch: Callable[[str, int, dict[str, list[float]]], None] | None = None,
) -> list[FittedMOGONET]:
    """Train one MOGONET per seed on the same data, all together: an ensemble's members in one run.

    Member ``i`` is the model :func:`train_mogonet` trains with ``seed=seeds[i]``: the same initial weights
    (exactly), the same dropout masks (drawn from the member's own :class:`DropoutMasks`, in the same order) and the
    same schedule and Adam updates (Adam is elementwise). Its results agree with :func:`train_mogonet`'s to
    float32 rounding, not bit for bit, because the arithmetic is arranged differently (below); as the
    training is chaotic, that holds on short schedules only (over the full schedule the two differ as models
    of different seeds do, see the module docstring). A member's results do not depend on which other
    members it is trained with, bit for bit, so an ensemble trained in chunks, in any order or number of
    processes, is the same ensemble.

    What is shared and what is faster than :func:`train_mogonet`:

    - the data, each view's training graph ``Â`` (as a sparse matrix, and its transpose) and the first
      layer's aggregated input ``Â X`` (the first convolution is ``(Â X) W_1 + b_1``, equal to ``Â (X W_1) +
      b_1``; ``X`` needs no gradient, so the first layer needs no aggregation at all);
    - one Adam step per view (and one for the VCDNs) updates every member (torch's fused Adam kernel over
      all the members' tensors, each tensor updated exactly as alone);
    - the forward and backward passes are written out by hand (no autograd graph); the dense products run in
      oneDNN (torch's ``mkldnn`` linear kernel, about twice the throughput of the default BLAS on these
      shapes; the default ``torch.nn.functional.linear`` where oneDNN is unavailable), with the LeakyReLU
      fused in; tiny products (the classifiers, the VCDN) stay in torch;
    - the first layer's activation computed by the VCDN step's forward pass is reused by the next epoch's
      step of the same view: that layer's weights do not change in between, so it is the same tensor.

    Members are processed one after another within each step (one view step of every member, then the
    Adam step; then the VCDN step of every member), and the products are per member: ``torch.bmm`` runs on
    the default BLAS (~100 GFLOPS on one core of the development machine, against ~210 for oneDNN on a
    245 x 200 x 200 product), a product ten members wide gains ~20 % on the first layer only, and neither
    would guarantee that a member's rounding does not depend on the batch. Measured on one core, a member
    costs the same trained alone or with nine others: the speed-up over :func:`train_mogonet` (~2x) comes
    from the hand-written passes, not from the batching.

    Args:
        views_train, y_train, n_classes, hidden, k, epochs_pretrain, epochs, lr_pretrain, lr_gcn, lr_vcdn,
        dropout, vcdn_hidden, vcdn_input, sample_weight, train_edges, num_threads, view_keys: as for
            :func:`train_mogonet`.
        seeds: one seed per member (at least one).
        on_epoch: called as ``on_epoch(phase, epoch, losses)`` after every epoch, ``losses[name]`` a list
            of the members' losses, names as for :func:`train_mogonet`.

    Returns:
        One fitted model per seed, in order; each is an ordinary :class:`FittedMOGONET` (its own module,
        ``history`` and state dict).

    Raises:
        DataError: as :func:`train_mogonet`.
        ConfigError: as :func:`train_mogonet`, and an empty or non-integer ``seeds``.
    """
    everything = [tuple(range(len(views_train)))] if isinstance(views_train, Sequence) else [(0,)]
    fits = _train_together(
        views_train,
        y_train,
        seeds=seeds,
        fusions=everything,
        view_keys=view_keys,
        on_epoch=on_epoch,
        n_classes=n_classes,
        hidden=hidden,
        k=k,
        epochs=(epochs_pretrain, epochs),
        lrs=(lr_pretrain, lr_gcn, lr_vcdn),
        dropout=dropout,
        vcdn_hidden=vcdn_hidden,
        vcdn_input=vcdn_input,
        sample_weight=sample_weight,
        train_edges=train_edges,
        num_threads=num_threads,
    )
    return [row[0] for row in fits]


def train_mogonet_stages(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    seeds: Sequence[int],
    fusions: Sequence[Sequence[int]],
    view_keys: Sequence[str] | None = None,
    n_classes: int | None = None,
    hidden: Sequence[int] = (200, 200, 100),
    k: int = 2,
    epochs_pretrain: int = 500,
    epochs: int = 2500,
    lr_pretrain: float = 1e-3,
    lr_gcn: float = 5e-4,
    lr_vcdn: float = 1e-3,
    dropout: float = 0.5,
    vcdn_hidden: int | None = None,
    vcdn_input: str = "sigmoid",
    sample_weight: str = "frequency",
    train_edges: bool = False,
    num_threads: int | None = 1,
    build: Builder | None = None,
) -> list[list[FittedMOGONET]]:
    """Train, per seed, one MOGONET for each of several subsets of the views (``fusions``), sharing their GCNs.

    MOGONET trains each view's GCN and classifier by that view's own loss only (the VCDN's loss updates the
    VCDN alone), and here every random draw of a view comes from its own stream (:func:`train_mogonet`'s
    ``view_keys``). So the GCN of view ``v`` is the same in every model that holds it, and models over nested
    view sets, such as SGUQ's stages (mRNA; mRNA + methylation; all three), need each GCN trained once: the
    views' steps run once per epoch, the forward passes the VCDN steps see run once per view, and each fusion
    of two or more views trains its own VCDN on them. Model ``[i][f]`` is the one :func:`train_mogonet` trains
    with ``seed=seeds[i]`` on the views ``fusions[f]`` (with their keys), to float32 rounding; it is bit for
    bit the same whichever members and other fusions it is trained with. The cost is that of the largest
    fusion alone, where training each model separately costs the sum over the fusions.

    Args:
        views_train: one ``(N, F_v)`` array per view, the same N patients in the same order.
        seeds: one seed per member.
        fusions: the models to train, each a list of view indices (order matters: the VCDN's discovery
            tensor has the first view most significant); every view in at least one.
        view_keys: a name per view (default ``"0"``, ``"1"``, ...), from which its random streams derive.
        y_train, n_classes, hidden, k, epochs_pretrain, epochs, lr_pretrain, lr_gcn, lr_vcdn, dropout,
        vcdn_hidden, vcdn_input, sample_weight, train_edges, num_threads: as for :func:`train_mogonet`.
        build: where each member's networks come from: ``build(f)`` gives a fresh MOGONET over the views of
            fusion ``f`` (the SGUQ task passes the registered model factory's); view ``v``'s GCN and classifier
            are taken from the first fusion that holds it, and every weight is drawn again from the member's
            streams, so the models are the same as without ``build`` (which builds them here), bit for bit.
            Their architecture must be that of ``hidden``, ``dropout``, ``vcdn_hidden``, ``vcdn_input``.

    Returns:
        ``fits[i][f]``: member ``i``'s model of fusion ``f``, an ordinary :class:`FittedMOGONET` over the
        fusion's views (in the fusion's order), with its own history (``view{j}`` for the fusion's j-th view).
    """
    return _train_together(
        views_train,
        y_train,
        seeds=seeds,
        fusions=fusions,
        view_keys=view_keys,
        on_epoch=None,
        n_classes=n_classes,
        hidden=hidden,
        k=k,
        epochs=(epochs_pretrain, epochs),
        lrs=(lr_pretrain, lr_gcn, lr_vcdn),
        dropout=dropout,
        vcdn_hidden=vcdn_hidden,
        vcdn_input=vcdn_input,
        sample_weight=sample_weight,
        train_edges=train_edges,
        num_threads=num_threads,
        build=build,
    )


def _train_together(
    views_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    *,
    seeds: Sequence[int],
    fusions: Sequence[Sequence[int]],
    view_keys: Sequence[str] | None,
    on_epoch: Callable[[str, int, dict[str, list[float]]], None] | None,
    epochs: tuple[int, int],
    lrs: tuple[float, float, float],
    train_edges: bool,
    num_threads: int | None,
    build: Builder | None = None,
    **settings: Any,
) -> list[list[FittedMOGONET]]:
    """:func:`train_mogonet_stages`, with ``on_epoch`` (losses named as by :func:`train_mogonet` when there is
    one fusion, ``vcdn<f>`` for fusion ``f``'s VCDN otherwise)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise ConfigError(f"seeds: expected a non-empty list of integer seeds (one per member), got {seeds!r}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise ConfigError(f"seeds: expected integers, got {s!r}")
    prepared = _prepare(
        views_train,
        y_train,
        epochs={"epochs_pretrain": epochs[0], "epochs": epochs[1]},
        lrs={"lr_pretrain": lrs[0], "lr_gcn": lrs[1], "lr_vcdn": lrs[2]},
        num_threads=num_threads,
        **settings,
    )
    n_views = len(prepared.views)
    fusions_ = _check_fusions(fusions, n_views)
    keys = _check_view_keys(view_keys, n_views)
    nets = [prepared.new_member(int(s), keys, fusions_, build) for s in seeds]
    multi = [f for f, views in enumerate(fusions_) if len(views) >= 2]
    vcdn_names = {f: "vcdn" if len(fusions_) == 1 else f"vcdn{f}" for f in multi}
    with torch_threads(num_threads), torch.no_grad():
        trainer = _Members(prepared, nets, fusions_, vcdn_names)
        histories = trainer.fit(epochs, lrs, on_epoch)
    train_views = prepared.train_views()
    out = []
    for member, history in zip(nets, histories, strict=True):
        row = []
        for f, views in enumerate(fusions_):
            own = {}
            for prefix in ("pretrain_", ""):
                for j, v in enumerate(views):
                    own[f"{prefix}view{j}"] = history[f"{prefix}view{v}"]
            if f in vcdn_names:
                own["vcdn"] = history[vcdn_names[f]]
            model = member.model(f, views).eval()
            thresholds = [prepared.thresholds[v] for v in views]
            row.append(FittedMOGONET(model, [train_views[v] for v in views], thresholds, train_edges, own))
        out.append(row)
    return out


_ONEDNN: bool | None = None  # whether oneDNN's linear kernel is usable (probed on first use)
_ONEDNN_MIN_MACS = 1 << 20  # smaller products go to torch: oneDNN's call costs ~10 us


def _onednn() -> bool:
    global _ONEDNN
    if _ONEDNN is None:
        ok = False
        try:
            if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise"):
                gen = torch.Generator().manual_seed(0)
                x, w, b = (torch.rand(s, generator=gen) for s in ((64, 48), (40, 48), (40,)))
                got = torch.ops.mkldnn._linear_pointwise(x, w.T.contiguous().T, b, "leaky_relu", [LEAKY_SLOPE], "")
                ok = bool(torch.allclose(got, F.leaky_relu(F.linear(x, w, b), LEAKY_SLOPE), rtol=1e-4, atol=1e-5))
        except (RuntimeError, AttributeError, NotImplementedError):
            ok = False
        _ONEDNN = ok
    return _ONEDNN


def _linear(x: Tensor, w: Tensor, b: Tensor | None = None, leaky: bool = False) -> Tensor:
    """``x @ w.T + b``, then LeakyReLU(0.25) if ``leaky``; ``x`` contiguous, ``w`` (out, in), any strides."""
    if x.shape[0] * x.shape[1] * w.shape[0] >= _ONEDNN_MIN_MACS and x.dtype == torch.float32 and _onednn():
        if leaky:
            return torch.ops.mkldnn._linear_pointwise(x, w, b, "leaky_relu", [LEAKY_SLOPE], "")
        return torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
    out = F.linear(x, w, b)
    return F.leaky_relu(out, LEAKY_SLOPE) if leaky else out


def _leaky_backward(grad: Tensor, activation: Tensor) -> Tensor:
    """The gradient through LeakyReLU(0.25), from its output (whose sign is its input's)."""
    return torch.ops.aten.leaky_relu_backward(grad, activation, LEAKY_SLOPE, True)


@dataclass
class _Pass:
    """What a view's forward pass keeps for its backward pass."""

    logits: Tensor
    activations: list[Tensor]  # each convolution's output, after the LeakyReLU
    inputs: list[Tensor]  # each convolution's aggregated input (Â X for the first)
    masks: list[Tensor | None]  # the scaled dropout mask before convolutions 2..L


class _FusedAdam:
    """``torch.optim.Adam(params, lr, fused=True)`` (default betas, eps, no weight decay) without its per-step
    bookkeeping: the same state (a float32 step count, moment buffers) and the same fused kernel, so the same
    updates bit for bit, each tensor updated on its own. Gradients are passed to :meth:`step`.
    ``torch.optim.Adam`` itself where torch lacks the kernel."""

    def __init__(self, params: list[Tensor], lr: float) -> None:
        self.params, self.lr = params, float(lr)
        self.fallback = None if hasattr(torch, "_fused_adam_") else torch.optim.Adam(params, lr=lr, fused=True)
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.count = torch.zeros((), dtype=torch.float32)  # every tensor's step count: they step together

    def step(self, grads: list[Tensor]) -> None:
        if self.fallback is not None:
            for p, g in zip(self.params, grads, strict=True):
                p.grad = g
            self.fallback.step()
            return
        self.count += 1
        torch._fused_adam_(
            self.params,
            grads,
            self.exp_avgs,
            self.exp_avg_sqs,
            [],
            [self.count] * len(self.params),
            amsgrad=False,
            lr=self.lr,
            beta1=0.9,
            beta2=0.999,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )


class _Members:
    """MOGONET's two-phase schedule for several members at once, each with one or more fusions of its views
    (see :func:`train_mogonet_members` and :func:`train_mogonet_stages`). ``vcdn_names[f]``: the loss name of
    fusion ``f``'s VCDN, for the fusions of two or more views."""

    def __init__(
        self,
        prepared: _Prepared,
        nets: list[_Nets],
        fusions: tuple[tuple[int, ...], ...],
        vcdn_names: dict[int, str],
    ) -> None:
        self.nets, self.fusions, self.vcdn_names = nets, fusions, vcdn_names
        self.n_views = len(prepared.views)
        self.dropout = prepared.dropout
        self.adj: list[Tensor] = []  # Â, sparse (COO, coalesced)
        self.adj_t: list[Tensor] = []  # Â^T
        self.first_input: list[Tensor] = []  # Â X
        for x, edge_index, edge_weight in prepared.graphs:
            n = x.shape[0]
            src, dst = edge_index[0], edge_index[1]  # the edge (src -> dst) carries Â[dst, src]

            def sparse(rows: Tensor, cols: Tensor, n: int = n, weight: Tensor = edge_weight) -> Tensor:
                indices = torch.stack([rows, cols])
                return torch.sparse_coo_tensor(indices, weight, (n, n), check_invariants=False).coalesce()

            self.adj.append(sparse(dst, src))
            self.adj_t.append(sparse(src, dst))
            self.first_input.append(torch.sparse.mm(self.adj[-1], x).contiguous())
        self.params = [
            [
                [*((conv.lin.weight, conv.bias) for conv in member.encoders[v].convs), (clf.weight, clf.bias)]
                for v, clf in enumerate(member.classifiers)
            ]
            for member in nets
        ]
        labels = torch.from_numpy(prepared.labels)
        self.target = labels
        self.weight = prepared.weight
        self.onehot = F.one_hot(labels, prepared.n_classes).to(torch.float32)
        self.scale = (prepared.weight / len(labels)).unsqueeze(1)  # d mean_i(w_i CE_i) / d logits = (p - y) w / N

    # -- parameters ---------------------------------------------------------------------------------------

    def _view_params(self, m: int, v: int) -> list[tuple[Tensor, Tensor]]:
        """Member ``m``'s ``(weight (out, in), bias)`` of each convolution of view ``v``, then its classifier's."""
        return self.params[m][v]

    def _vcdn_params(self, m: int, f: int) -> list[tuple[Tensor, Tensor]]:
        mlp = self.nets[m].vcdns[f].mlp
        return [(mlp[0].weight, mlp[0].bias), (mlp[2].weight, mlp[2].bias)]

    # -- passes -------------------------------------------------------------------------------------------

    def _forward(self, m: int, v: int, first: Tensor | None, fusion: bool = False) -> _Pass:
        """View ``v``'s GCN and classifier for member ``m``, in training mode (dropout drawn from the view's
        own stream, or from its fusion stream for the VCDN steps' passes: the draws of :class:`GCNEncoder`).

        ``first``: the first convolution's output, when already known (see :meth:`fit`)."""
        params = self._view_params(m, v)
        source = (self.nets[m].fusion_masks if fusion else self.nets[m].view_masks)[v]
        x = self.first_input[v]
        h = first if first is not None else _linear(x, *params[0], leaky=True)
        activations, inputs, masks = [h], [x], []
        for w, b in params[1:-1]:
            mask = source.mask(h.shape, self.dropout) if self.dropout > 0.0 else None
            if mask is not None:
                h = h * mask
            x = torch.sparse.mm(self.adj[v], h)
            h = _linear(x, w, b, leaky=True)
            activations.append(h)
            inputs.append(x)
            masks.append(mask)
        return _Pass(_linear(h, *params[-1]), activations, inputs, masks)

    def _loss(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """MOGONET's loss ``mean_i(w_i CE_i)`` and its gradient with respect to the logits."""
        loss = (F.cross_entropy(logits, self.target, reduction="none") * self.weight).mean()
        grad = (torch.softmax(logits, dim=1) - self.onehot) * self.scale
        return loss, grad

    def _view_step(self, m: int, v: int, first: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        """Forward and backward pass of view ``v`` for member ``m``: the loss and the gradients of
        :meth:`_view_params` (flattened: weight, bias, weight, bias, ...)."""
        fwd = self._forward(m, v, first)
        loss, grad = self._loss(fwd.logits)
        params = self._view_params(m, v)
        w_clf = params[-1][0]
        grads = [_linear(grad.T.contiguous(), fwd.activations[-1].T), grad.sum(0)]
        grad = _linear(grad, w_clf.T)
        for layer in range(len(params) - 2, -1, -1):
            w = params[layer][0]
            grad = _leaky_backward(grad, fwd.activations[layer])
            grads[:0] = [_linear(grad.T.contiguous(), fwd.inputs[layer].T), grad.sum(0)]
            if layer > 0:
                grad = torch.sparse.mm(self.adj_t[v], _linear(grad, w.T))
                mask = fwd.masks[layer - 1]
                if mask is not None:
                    grad = grad * mask
        return loss, grads

    def _vcdn_step(self, m: int, f: int, logits: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Forward and backward pass of member ``m``'s VCDN of fusion ``f`` on its views' logits: the loss and
        the gradients."""
        (w1, b1), (w2, b2) = self._vcdn_params(m, f)
        t = self.nets[m].vcdns[f].discovery_tensor(logits)
        a = _linear(t, w1, b1, leaky=True)
        loss, grad = self._loss(_linear(a, w2, b2))
        grads_2 = [_linear(grad.T.contiguous(), a.T), grad.sum(0)]
        grad = _leaky_backward(_linear(grad, w2.T), a)
        return loss, [_linear(grad.T.contiguous(), t.T), grad.sum(0), *grads_2]

    # -- the schedule -------------------------------------------------------------------------------------

    def fit(
        self,
        epochs: tuple[int, int],
        lrs: tuple[float, float, float],
        on_epoch: Callable[[str, int, dict[str, list[float]]], None] | None,
    ) -> list[dict[str, np.ndarray]]:
        """The two phases of :func:`_fit` for every member and fusion; returns each member's per-epoch losses
        (``pretrain_view<v>``, ``view<v>`` for every view, and each VCDN's under its name)."""
        n_members, n_views = len(self.nets), self.n_views
        multi = list(self.vcdn_names)  # fusions with a VCDN
        fused_views = sorted({v for f in multi for v in self.fusions[f]})  # views whose passes the VCDNs see
        names = [f"{p}view{v}" for p in ("pretrain_", "") for v in range(n_views)] + list(self.vcdn_names.values())
        losses: dict[str, list[Tensor]] = {name: [] for name in names}  # per epoch, (M,) losses
        for member in self.nets:
            for module in (*member.encoders, *member.classifiers, *member.vcdns.values()):
                module.train()

        def view_optimisers(lr: float) -> list[_FusedAdam]:
            return [
                _FusedAdam([p for m in range(n_members) for pair in self._view_params(m, v) for p in pair], lr)
                for v in range(n_views)
            ]

        def report(phase: str, epoch: int, keys: list[str]) -> None:
            if on_epoch is not None:
                prefix = "pretrain_" if phase == "pretrain" else ""
                on_epoch(phase, epoch, {key: losses[prefix + key][-1].tolist() for key in keys})

        view_keys = [f"view{v}" for v in range(n_views)]
        optimisers = view_optimisers(lrs[0])
        for epoch in range(epochs[0]):
            for v, opt in enumerate(optimisers):
                step, grads = [], []
                for m in range(n_members):
                    loss, member_grads = self._view_step(m, v, None)
                    step.append(loss)
                    grads.extend(member_grads)
                opt.step(grads)
                losses[f"pretrain_view{v}"].append(torch.stack(step))
            report("pretrain", epoch, view_keys)

        optimisers = view_optimisers(lrs[1])
        vcdn_opts = {
            f: _FusedAdam([p for m in range(n_members) for pair in self._vcdn_params(m, f) for p in pair], lrs[2])
            for f in multi
        }
        # first[m][v]: the first convolution's output of the VCDN steps' forward pass, which the next epoch's
        # step of view v reuses (that layer's weights only change in view v's own step, after it)
        first: list[list[Tensor | None]] = [[None] * n_views for _ in range(n_members)]
        for epoch in range(epochs[1]):
            for v, opt in enumerate(optimisers):
                step, grads = [], []
                for m in range(n_members):
                    loss, member_grads = self._view_step(m, v, first[m][v])
                    first[m][v] = None
                    step.append(loss)
                    grads.extend(member_grads)
                opt.step(grads)
                losses[f"view{v}"].append(torch.stack(step))
            if multi:
                # one forward pass per member and view, seen by every VCDN that fuses the view
                logits: list[dict[int, Tensor]] = []
                for m in range(n_members):
                    logits.append({})
                    for v in fused_views:
                        fwd = self._forward(m, v, None, fusion=True)
                        first[m][v] = fwd.activations[0]
                        logits[m][v] = fwd.logits
                for f, opt in vcdn_opts.items():
                    step, grads = [], []
                    for m in range(n_members):
                        loss, member_grads = self._vcdn_step(m, f, [logits[m][v] for v in self.fusions[f]])
                        step.append(loss)
                        grads.extend(member_grads)
                    opt.step(grads)
                    losses[self.vcdn_names[f]].append(torch.stack(step))
            report("train", epoch, [*view_keys, *self.vcdn_names.values()])

        table = {
            name: (torch.stack(v).to(torch.float64).numpy() if v else np.zeros((0, n_members)))
            for name, v in losses.items()
        }
        return [{name: np.ascontiguousarray(values[:, m]) for name, values in table.items()} for m in range(n_members)]
