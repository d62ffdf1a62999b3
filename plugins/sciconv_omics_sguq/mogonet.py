"""MOGONET: omics-specific graph convolutional networks fused by a View Correlation Discovery Network.

Wang et al., "MOGONET integrates multi-omics data using graph convolutional networks allowing patient
classification and biomarker identification", Nat Commun 12, 3445 (2021). SGUQ builds its staged,
uncertainty-aware AD diagnosis on these per-omics GCNs.

**Per omics type** ``v`` (:class:`GCNEncoder` + a linear classifier): three graph convolutions
``H <- Â H W + b`` over the patient graph of :mod:`~sciconv_omics_sguq.patient_graph` (``Â`` row-normalised,
self loops included), hidden sizes ``(200, 200, 100)`` for ROSMAP, each followed by LeakyReLU(0.25); dropout
0.5 after the activation of the first two (none after the third, and none on the input), then
``Linear(100, C)`` to class logits. The convolutions are torch-geometric's ``GCNConv(normalize=False,
add_self_loops=False)``: the graph is already normalised and holds its self loops, so the message
``Â[i, j] x_j W`` summed at ``i`` is MOGONET's sparse ``Â (X W) + b`` exactly. Weights are Xavier-normal,
biases zero, as in the official code.

**Fusion** (:class:`VCDN`, for ``V >= 2`` views): each view's logits pass through a *sigmoid*, as in the
official code (``vcdn_input="softmax"`` reads them as probability distributions instead); the cross-view
discovery tensor ``T[a_1, .., a_V] = prod_v p_v[a_v]`` (``C^V`` entries, flattened with view 1 most
significant) goes through ``Linear(C^V, C^V)``, LeakyReLU(0.25), ``Linear(C^V, C)``. With one view the fused
output is that view's logits.

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

**Determinism.** Initial weights and dropout masks come from a ``torch.Generator`` seeded with ``seed``,
so a seed gives the same model on CPU whatever the global RNG holds; the global RNG is not seeded, and
the throw-away default initialisation drawn while the modules are built runs inside
``torch.random.fork_rng``, so the caller's RNG stream is untouched. Training runs single-threaded
(``torch.set_num_threads(1)``, restored afterwards; ``num_threads`` overrides): with matrices this small
(~250 x 200) two threads were no faster on an idle 2-core machine (29.6 s against 31.4 s for the full
schedule) and several times slower on a busy one, and one thread leaves the other cores to parallel jobs
(folds, seeds). Adam is torch's fused CPU implementation and dropout draws its mask with ``torch.rand``:
together ~1.3x faster than ``F.dropout`` and the default Adam. The full ROSMAP-sized schedule (3 views,
245 x 200, 500 + 2500 epochs) takes about 30 s on one core.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from sciconv.errors import ConfigError, DataError
from sciconv_omics_sguq.patient_graph import train_graph, train_test_graph

__all__ = ["MOGONET", "VCDN", "FittedMOGONET", "GCNEncoder", "class_frequency_weights", "train_mogonet"]

LEAKY_SLOPE = 0.25
_VCDN_INPUTS = ("sigmoid", "softmax")
_SAMPLE_WEIGHTS = ("frequency", "none")

Graph = tuple[Tensor, Tensor, Tensor]
"""One view's ``(x, edge_index, edge_weight)``."""


class GCNEncoder(nn.Module):
    """MOGONET's omics-specific GCN (``GCN_E``): graph convolutions, each with LeakyReLU(0.25).

    ``H_{l+1} = LeakyReLU(Â H_l W_l + b_l)``, with dropout on ``H_{l+1}`` between layers (after the
    activation; none on the input or the output). Dropout masks come from :attr:`generator` when it is
    set (training sets it, for runs reproducible without touching the global RNG), else from the global
    RNG; the mask is drawn with ``torch.rand``, ~3x faster on CPU than ``F.dropout``'s Bernoulli sampling.

    Args:
        in_features: features of the omics type.
        hidden: output sizes of the convolutions (MOGONET: ``(200, 200, 100)`` for ROSMAP, ``(400, 400,
            200)`` for BRCA).
        dropout: dropout probability between layers (0.5).

    Shapes:
        x (N, in_features), edge_index (2, E), edge_weight (E,) -> (N, hidden[-1]).
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (200, 200, 100), dropout: float = 0.5) -> None:
        super().__init__()
        sizes = [in_features, *hidden]
        self.convs = nn.ModuleList(
            GCNConv(a, b, normalize=False, add_self_loops=False) for a, b in itertools.pairwise(sizes)
        )
        self.dropout = dropout
        self.generator: torch.Generator | None = None
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases (the official initialisation)."""
        for conv in self.convs:
            nn.init.xavier_normal_(conv.lin.weight, generator=generator)
            nn.init.zeros_(conv.bias)

    def _dropout(self, x: Tensor) -> Tensor:
        if not self.training or self.dropout == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.dropout
        return x * keep / (1.0 - self.dropout)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = self._dropout(x)
            x = F.leaky_relu(conv(x, edge_index, edge_weight), LEAKY_SLOPE)
        return x


class VCDN(nn.Module):
    """View Correlation Discovery Network: an MLP on the cross-view discovery tensor.

    Args:
        n_views: number of views ``V`` (>= 2).
        n_classes: number of classes ``C``.
        hidden: hidden width; default ``C^V`` as in MOGONET.
        vcdn_input: ``"sigmoid"`` (official code) or ``"softmax"`` applied to each view's logits.

    Shapes:
        V tensors (N, C) of logits -> discovery tensor (N, C^V) -> output (N, C) logits.
    """

    def __init__(self, n_views: int, n_classes: int, hidden: int | None = None, vcdn_input: str = "sigmoid") -> None:
        super().__init__()
        if n_views < 2:
            raise ConfigError(f"VCDN: fuses at least 2 views, got {n_views}")
        if vcdn_input not in _VCDN_INPUTS:
            raise ConfigError(f"vcdn_input: expected one of {_VCDN_INPUTS}, got {vcdn_input!r}")
        self.n_views, self.n_classes, self.vcdn_input = n_views, n_classes, vcdn_input
        width = n_classes**n_views
        hidden = width if hidden is None else hidden
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(LEAKY_SLOPE), nn.Linear(hidden, n_classes))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases (the official initialisation)."""
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.xavier_normal_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def discovery_tensor(self, logits: Sequence[Tensor]) -> Tensor:
        """The flattened outer product of the views' class scores, ``(N, C^V)``, view 1 most significant."""
        if len(logits) != self.n_views:
            raise DataError(f"VCDN: expected {self.n_views} views, got {len(logits)}")
        act = torch.sigmoid if self.vcdn_input == "sigmoid" else (lambda t: torch.softmax(t, dim=1))
        out = act(logits[0])
        for view in logits[1:]:
            out = (out.unsqueeze(2) * act(view).unsqueeze(1)).flatten(1)
        return out

    def forward(self, logits: Sequence[Tensor]) -> Tensor:
        return self.mlp(self.discovery_tensor(logits))


class MOGONET(nn.Module):
    """V omics-specific GCNs with their classifiers, fused by a :class:`VCDN` when ``V >= 2``.

    Args:
        in_features: features of each view.
        n_classes: number of classes ``C``.
        hidden: the GCNs' hidden sizes.
        dropout: the GCNs' dropout.
        vcdn_hidden: the VCDN's hidden width (default ``C^V``).
        vcdn_input: ``"sigmoid"`` or ``"softmax"``, see :class:`VCDN`.

    Shapes:
        forward takes V triples ``(x (N, F_v), edge_index (2, E_v), edge_weight (E_v,))`` over the same
        N patients and returns ``(per-view logits: V x (N, C), fused logits (N, C))``.
    """

    def __init__(
        self,
        in_features: Sequence[int],
        n_classes: int,
        hidden: Sequence[int] = (200, 200, 100),
        dropout: float = 0.5,
        vcdn_hidden: int | None = None,
        vcdn_input: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.n_views, self.n_classes = len(in_features), n_classes
        self.encoders = nn.ModuleList(GCNEncoder(f, hidden, dropout) for f in in_features)
        self.classifiers = nn.ModuleList(nn.Linear(hidden[-1], n_classes) for _ in in_features)
        self.vcdn = VCDN(self.n_views, n_classes, vcdn_hidden, vcdn_input) if self.n_views >= 2 else None
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases everywhere; drawn from ``generator`` when given."""
        for encoder, clf in zip(self.encoders, self.classifiers, strict=True):
            encoder.reset_parameters(generator)
            nn.init.xavier_normal_(clf.weight, generator=generator)
            nn.init.zeros_(clf.bias)
        if self.vcdn is not None:
            self.vcdn.reset_parameters(generator)

    def set_generator(self, generator: torch.Generator | None) -> None:
        """The RNG of the GCNs' dropout masks (``None``: the global RNG)."""
        for encoder in self.encoders:
            encoder.generator = generator

    def view_logits(self, v: int, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        """Class logits ``(N, C)`` of view ``v`` alone."""
        return self.classifiers[v](self.encoders[v](x, edge_index, edge_weight))

    def fuse(self, logits: Sequence[Tensor]) -> Tensor:
        """The fused logits: the VCDN's output, or the single view's logits."""
        return logits[0] if self.vcdn is None else self.vcdn(logits)

    def forward(self, views: Sequence[Graph]) -> tuple[list[Tensor], Tensor]:
        if len(views) != self.n_views:
            raise DataError(f"MOGONET: expected {self.n_views} views, got {len(views)}")
        logits = [self.view_logits(v, *g) for v, g in enumerate(views)]
        return logits, self.fuse(logits)


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
    allowed = {"vcdn_input": _VCDN_INPUTS, "sample_weight": _SAMPLE_WEIGHTS}
    for name, value in choices.items():
        if value not in allowed[name]:
            raise ConfigError(f"{name}: expected one of {allowed[name]}, got {value!r}")
    return tuple(int(h) for h in hidden)


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
        state["meta.vcdn_input"] = torch.tensor(0 if vcdn is None else _VCDN_INPUTS.index(vcdn.vcdn_input))
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
                    vcdn_input=_VCDN_INPUTS[int(state["meta.vcdn_input"])],
                )
            model.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
            thresholds = [float(t) for t in state["meta.thresholds"]]
            train_edges = bool(int(state["meta.train_edges"]))
        except (KeyError, IndexError, RuntimeError, ValueError) as exc:
            raise DataError(f"MOGONET state: not a state written by FittedMOGONET.state_dict ({exc})") from exc
        if n_views == 0 or len(thresholds) != n_views:
            raise DataError(f"MOGONET state: {n_views} training views but {len(thresholds)} thresholds")
        return cls(model.eval(), train_views, thresholds, train_edges)


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
        on_epoch: called as ``on_epoch(phase, epoch, losses)`` after every epoch, phase ``"pretrain"``
            or ``"train"``, losses keyed ``"view{v}"`` and ``"vcdn"``.

    Returns:
        The fitted model; :meth:`FittedMOGONET.predict_proba` classifies new patients.

    Raises:
        DataError: views of different sample counts, bad values, labels out of range.
        ConfigError: bad hyperparameters.
    """
    views = _as_views(views_train, "views_train")
    labels, n_classes = _as_labels(y_train, views[0].shape[0], n_classes)
    hidden = _check_config(
        hidden,
        dropout,
        {"epochs_pretrain": epochs_pretrain, "epochs": epochs},
        {"lr_pretrain": lr_pretrain, "lr_gcn": lr_gcn, "lr_vcdn": lr_vcdn},
        vcdn_input=vcdn_input,
        sample_weight=sample_weight,
    )
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

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # construction draws a throw-away init from the global RNG
        model = MOGONET([x.shape[1] for x in views], n_classes, hidden, dropout, vcdn_hidden, vcdn_input)
    model.reset_parameters(generator)
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    model.set_generator(generator)
    try:
        history = _fit(
            model,
            graphs,
            _WeightedCE(torch.from_numpy(labels), weight),
            (epochs_pretrain, epochs),
            (lr_pretrain, lr_gcn, lr_vcdn),
            on_epoch,
        )
    finally:
        torch.set_num_threads(threads)
        model.set_generator(None)
    model.eval()
    train_views = [torch.from_numpy(x.copy()) for x in views]
    return FittedMOGONET(model, train_views, thresholds, train_edges, history)


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
) -> dict[str, np.ndarray]:
    """The two training phases; returns the per-epoch losses."""
    n_views = model.n_views
    history: dict[str, list[float]] = {f"{p}view{v}": [] for p in ("pretrain_", "") for v in range(n_views)}
    if model.vcdn is not None:
        history["vcdn"] = []
    model.train()

    def view_steps(optimisers: list[torch.optim.Adam], prefix: str) -> dict[str, float]:
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
