"""MOGONET's networks (GCN encoder, VCDN, the fused model, the dropout streams) and the registered model
component ``omics-sguq.mogonet``: architecture, sizes, parameter checks through the pipeline, the old name."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import sciconv
from sciconv import DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.registry import get_registry
from sciconv.testing import check_model
from sciconv_omics_sguq.models import MOGONET, VCDN, DropoutMasks, GCNEncoder, MOGONETNet
from sciconv_omics_sguq.patient_graph import train_graph


def graph(n: int = 30, f: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = np.random.default_rng(seed).normal(size=(n, f)) + 1.0
    ei, ew, _ = train_graph(x, 2)
    return torch.tensor(x, dtype=torch.float32), ei, ew


def dense(edge_index: torch.Tensor, edge_weight: torch.Tensor, n: int) -> torch.Tensor:
    a = torch.zeros(n, n)
    a[edge_index[1], edge_index[0]] = edge_weight
    return a


# ---------------------------------------------------------------------------------------------------------
# architecture


def test_rosmap_size() -> None:
    """Three 200-feature views, hidden (200, 200, 100), 2 classes: the official model's parameter count."""
    model = MOGONET([200, 200, 200], 2)
    per_view = (200 * 200 + 200) + (200 * 200 + 200) + (200 * 100 + 100) + (100 * 2 + 2)
    vcdn = (8 * 8 + 8) + (8 * 2 + 2)  # C^V = 8 inputs, hidden C^V
    assert sum(p.numel() for p in model.parameters()) == 3 * per_view + vcdn == 302_196
    assert [c.out_channels for c in model.encoders[0].convs] == [200, 200, 100]
    assert model.vcdn is not None and model.vcdn.mlp[0].in_features == 8 and model.vcdn.mlp[0].out_features == 8


def test_shapes_of_a_forward_pass() -> None:
    graphs = [graph(30, f, seed=f) for f in (12, 7, 5)]
    model = MOGONET([12, 7, 5], 4, hidden=(20, 20, 10))
    logits, fused = model(graphs)
    assert [lg.shape for lg in logits] == [(30, 4)] * 3 and fused.shape == (30, 4)
    assert model.encoders[1](*graphs[1]).shape == (30, 10)
    with pytest.raises(DataError, match="expected 3 views, got 2"):
        model(graphs[:2])


def test_gcn_layer_is_mogonets_graph_convolution() -> None:
    """Each layer is LeakyReLU_0.25(Â X W + b) with the dense row-normalised Â."""
    x, ei, ew = graph()
    enc = GCNEncoder(12, hidden=(9, 6, 4)).eval()
    for conv in enc.convs:
        torch.nn.init.normal_(conv.bias)
    a = dense(ei, ew, 30)
    h = x
    for conv in enc.convs:
        h = torch.nn.functional.leaky_relu(a @ h @ conv.lin.weight.T + conv.bias, 0.25)
    torch.testing.assert_close(enc(x, ei, ew), h, atol=1e-5, rtol=1e-5)


def test_initialisation() -> None:
    torch.manual_seed(0)
    model = MOGONET([300, 300], 3, hidden=(200, 200, 100))
    w = model.encoders[0].convs[0].lin.weight
    assert w.std().item() == pytest.approx((2.0 / (300 + 200)) ** 0.5, rel=0.05)  # Xavier normal
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    assert biases and all(torch.all(b == 0) for b in biases)


def test_dropout_sits_between_layers_only() -> None:
    """No dropout on the input or the output: one layer in training mode equals evaluation mode."""
    x, ei, ew = graph()
    one = GCNEncoder(12, hidden=(8,), dropout=0.9)
    torch.testing.assert_close(one.train()(x, ei, ew), one.eval()(x, ei, ew))
    two = GCNEncoder(12, hidden=(8, 8), dropout=0.9)
    assert not torch.allclose(two.train()(x, ei, ew), two.eval()(x, ei, ew))
    # the masks come from the encoder's DropoutMasks when set
    two.train().masks = DropoutMasks(3)
    a = two(x, ei, ew)
    two.masks = DropoutMasks(3)
    torch.testing.assert_close(two(x, ei, ew), a)


@pytest.mark.parametrize("p", [0.5, 0.2, 0.0])
def test_dropout_masks_are_seeded_inverted_bernoulli(p: float) -> None:
    """Entries are 0 or 1 / (1 - p), kept with probability 1 - p, the same stream for the same seed."""
    first = DropoutMasks(7).mask((300, 200), p)
    assert first.dtype == torch.float32 and first.shape == (300, 200)
    torch.testing.assert_close(DropoutMasks(7).mask((300, 200), p), first)
    assert not torch.equal(DropoutMasks(8).mask((300, 200), p), first) or p == 0.0
    assert bool(((first == 0) | (first == torch.tensor(1.0 / (1.0 - p)))).all())
    kept = (first > 0).double().mean().item()
    assert abs(kept - (1.0 - p)) < 4 * math.sqrt(p * (1 - p) / first.numel()) + 1e-12
    # consecutive masks differ, and an odd size (not a multiple of 8 bits) is drawn whole
    masks = DropoutMasks(7)
    masks.mask((300, 200), p)
    assert not torch.equal(masks.mask((300, 200), p), first) or p == 0.0
    odd = DropoutMasks(1).mask((13, 3), p)
    assert odd.shape == (13, 3)


@pytest.mark.parametrize("n_views", [2, 3, 4])
def test_vcdn_discovery_tensor(n_views: int) -> None:
    """C^V entries: the outer product of the views' sigmoid scores, view 1 most significant."""
    n_classes = 3
    logits = [torch.randn(5, n_classes) for _ in range(n_views)]
    vcdn = VCDN(n_views, n_classes)
    t = vcdn.discovery_tensor(logits)
    assert t.shape == (5, n_classes**n_views)
    letters = "abcd"[:n_views]
    expected = torch.einsum(",".join(f"n{c}" for c in letters) + f"->n{letters}", *map(torch.sigmoid, logits))
    torch.testing.assert_close(t, expected.reshape(5, -1))
    assert vcdn.mlp[0].in_features == vcdn.mlp[0].out_features == n_classes**n_views
    assert vcdn(logits).shape == (5, n_classes)


def test_vcdn_softmax_reading() -> None:
    logits = [torch.randn(6, 2) for _ in range(3)]
    t = VCDN(3, 2, hidden=5, vcdn_input="softmax").discovery_tensor(logits)
    torch.testing.assert_close(t.sum(dim=1), torch.ones(6))  # a joint distribution over C^V label tuples
    with pytest.raises(ConfigError, match="vcdn_input"):
        VCDN(3, 2, vcdn_input="relu")
    with pytest.raises(ConfigError, match="at least 2 views"):
        VCDN(1, 2)


# ---------------------------------------------------------------------------------------------------------
# the model component


def _spec(n_features: list[int], n_classes: int = 2) -> DataSpec:
    return DataSpec(
        input_shape=(sum(n_features),),
        n_outputs=n_classes,
        classes=tuple(str(c) for c in range(n_classes)),
        extra={"modalities": ["mrna", "meth", "mirna"][: len(n_features)], "n_features": n_features},
    )


def test_model_component_conforms_and_has_mogonets_size() -> None:
    model = check_model("omics-sguq.mogonet", _spec([12, 7, 5], 3), {"hidden": [16, 16, 8]})
    assert isinstance(model, MOGONETNet) and model.mogonet.vcdn is not None
    single = check_model("omics-sguq.mogonet", _spec([12]), {"hidden": [16, 16, 8]}, batch_size=1)
    assert single.mogonet.vcdn is None
    # MOGONET at ROSMAP's size (three 200-feature omics, hidden 200-200-100, two classes): 302,196 weights
    rosmap = MOGONETNet(_spec([200, 200, 200]))
    assert sum(p.numel() for p in rosmap.parameters()) == 302_196
    assert rosmap.training_params() == {
        "hidden": (200, 200, 100),
        "dropout": 0.5,
        "vcdn_hidden": None,
        "vcdn_input": "sigmoid",
        "k": 2,
        "train_edges": False,
    }
    out = rosmap.eval()(torch.rand(30, 600))
    assert out.shape == (30, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden": []}, r"model\.params\.hidden: .*length >= 1"),
        ({"hidden": [16, 0, 8]}, r"model\.params\.hidden: "),
        ({"dropout": 1.0}, r"model\.params\.dropout: expected a number >= 0\.0 and < 1\.0"),
        ({"vcdn_input": "tanh"}, r"model\.params\.vcdn_input: .*'sigmoid' or 'softmax'"),
        ({"vcdn_hidden": 0}, r"model\.params\.vcdn_hidden: expected an integer >= 1 or null"),
        ({"k": 0}, r"model\.params\.k: expected an integer >= 1"),
    ],
)
def test_bad_model_parameters(params: dict, message: str) -> None:
    """The pipeline refuses them from the factory's signature, naming the pipeline key."""
    overrides = {f"model.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("omics-sguq", overrides)


def test_a_spec_that_does_not_match_its_views() -> None:
    with pytest.raises(DataError, match="does not match the views' feature counts"):
        MOGONETNet(DataSpec(input_shape=(10,), n_outputs=2, classes=("a", "b"), extra={"n_features": [4, 4]}))


def test_the_old_name_still_resolves() -> None:
    registry = get_registry()
    with pytest.warns(FutureWarning, match="omics-sguq.mogonet"):
        factory = registry.load("models", "sguq.mogonet")
    assert factory is MOGONETNet is registry.load("models", "omics-sguq.mogonet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pipeline = sciconv.load_pipeline("omics-sguq", {"model.name": "sguq.mogonet"})
    assert pipeline.config.model.params["k"] == 2
