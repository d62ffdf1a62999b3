"""SkyReconNet and its SSIM + MSE loss: shapes, pass-through of observed pixels, the parameter count the docstring
states, determinism, every convolution through sciconv.conv, overfitting a few masked skies, and the errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import healpy as hp
import numpy as np
import pytest
import torch

from sciconv.conv import Conv2d, record_calls
from sciconv.errors import ConfigError, DataError
from sciconv.params import check_params
from sciconv.seeding import torch_threads
from sciconv.spec import DataSpec
from sciconv_cmb.models import DualBlock, SkyReconNet, SSIMMSELoss
from sciconv_cmb.sphere_layers import SphereConv


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """These small convolutions run fastest on one thread, and a busy host cannot stall them (two threads on a
    loaded 2-core machine made a Nside 8 training step 20x slower)."""
    with torch_threads(1):
        yield


def _spec(nside: int) -> DataSpec:
    return DataSpec((2, 12 * nside**2), 1, "reconstruction", units="uK", extra={"nside": nside})


def _skies(nside: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` unit-std Gaussian skies (C_l ~ 1 / (l (l + 1)), NESTED) and masks with a 30 degree disc cut out.

    Returns the network input (n, 2, npix) and the true maps (n, 1, npix)."""
    rng = np.random.default_rng(seed)
    ell = np.arange(3 * nside)
    cl = np.zeros(len(ell))
    cl[2:] = 1.0 / (ell[2:] * (ell[2:] + 1.0))
    npix = 12 * nside**2
    maps, masks = np.empty((n, npix)), np.ones((n, npix))
    for i in range(n):
        # Gaussian a_lm of variance C_l (real at m = 0), drawn from our own generator, not numpy's global one
        ells, ms = hp.Alm.getlm(3 * nside - 1)
        alm = rng.normal(size=len(ells)) + 1j * np.where(ms > 0, rng.normal(size=len(ells)), 0.0)
        alm *= np.sqrt(cl[ells] / np.where(ms > 0, 2.0, 1.0))
        m = hp.reorder(hp.alm2map(alm, nside), r2n=True)
        maps[i] = (m - m.mean()) / m.std()
        centre = hp.ang2vec(rng.uniform(0.5, np.pi - 0.5), rng.uniform(0, 2 * np.pi))
        masks[i, hp.query_disc(nside, centre, np.radians(30), nest=True)] = 0.0
    truth = torch.as_tensor(maps, dtype=torch.float32).unsqueeze(1)
    mask = torch.as_tensor(masks, dtype=torch.float32).unsqueeze(1)
    return torch.cat([truth * mask, mask], dim=1), truth


def _dual_block_params(i: int, o: int, k: int) -> int:
    """The DualBlock docstring's formula."""
    return (
        9 * i * o
        + 2 * o
        + 9 * i * o
        + 9 * o * o * (k - 1)
        + 2 * o * k
        + 2 * o * o
        + 2 * o
        + (i * o + o if i != o else 0)
    )


def test_output_shape_and_observed_pixels_pass_through() -> None:
    nside = 8
    torch.manual_seed(0)
    net = SkyReconNet(_spec(nside), channels=(4, 8, 8), dilations=(1, 2, 4))
    x, _ = _skies(nside, 3, seed=1)
    x[0, 1, :50] = 0.4  # apodised mask values count as observed
    out = net(x)
    assert out.shape == (3, 1, 12 * nside**2)
    observed = x[:, 1:2] > 0
    assert torch.equal(out[observed], x[:, :1][observed])
    assert not torch.equal(out[~observed], torch.zeros_like(out[~observed]))  # the holes are filled


def test_parameter_count_is_the_documented_one() -> None:
    net = SkyReconNet(_spec(8))  # defaults: channels (16, 32, 64, 64), dilations (1, 2, 4, 8), one block per level
    count = sum(p.numel() for p in net.parameters())
    print(f"SkyReconNet default parameters: {count}")
    assert count == 785_873
    documented = re.search(r"\*\*([\d,]+)\*\* parameters", SkyReconNet.__doc__ or "")
    assert documented is not None and int(documented.group(1).replace(",", "")) == count
    # the same from DualBlock's formula: 4 encoder levels, 3 decoder levels (skip concatenation), a 1x1 head
    c = (16, 32, 64, 64)
    encoder = sum(_dual_block_params(2 if i == 0 else c[i - 1], c[i], 4) for i in range(4))
    decoder = sum(_dual_block_params(c[i + 1] + c[i], c[i], 4) for i in range(3))
    assert encoder + decoder + (c[0] + 1) == count
    # the count does not depend on Nside (dilations are capped, not dropped)
    assert sum(p.numel() for p in SkyReconNet(_spec(32)).parameters()) == count
    block = DualBlock(5, 7, 4, (1, 2, 4))
    assert sum(p.numel() for p in block.parameters()) == _dual_block_params(5, 7, 3)


def test_deterministic_given_seed() -> None:
    x, _ = _skies(4, 2, seed=2)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        net = SkyReconNet(_spec(4), channels=(4, 8), dilations=(1, 2))
        outs.append(net(x))
    assert torch.equal(outs[0], outs[1])


def test_every_convolution_goes_through_sciconv_conv() -> None:
    net = SkyReconNet(_spec(8))
    n_sphere_convs = sum(isinstance(m, SphereConv) for m in net.modules())
    assert n_sphere_convs == 49  # what the docstring says
    with record_calls() as calls:
        net(_skies(8, 2, seed=3)[0])
    assert len(calls) == n_sphere_convs
    # no convolution outside them: every torch conv module is a SphereConv's sciconv Conv2d
    torch_convs = [m for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    assert len(torch_convs) == n_sphere_convs and all(isinstance(m, Conv2d) for m in torch_convs)


def test_overfits_a_few_masked_skies() -> None:
    nside = 8
    x, truth = _skies(nside, 8, seed=4)
    hole = x[:, 1:2] == 0
    torch.manual_seed(0)
    net = SkyReconNet(_spec(nside), channels=(8, 16), dilations=(1, 2, 4))
    loss_fn = SSIMMSELoss(nside)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)

    def masked_mse() -> float:
        with torch.no_grad():
            return float(((net(x) - truth)[hole] ** 2).mean())

    before = masked_mse()
    for _ in range(60):
        optimiser.zero_grad()
        loss_fn(net(x), truth).backward()
        optimiser.step()
    after = masked_mse()
    print(f"masked MSE before {before:.3f}, after 60 steps {after:.4f}")
    assert after < before / 20  # measured 1.64 -> about 0.01


def test_loss_identical_inputs_gradients_and_ssim_part() -> None:
    nside = 8
    _, truth = _skies(nside, 2, seed=5)
    loss_fn = SSIMMSELoss(nside, alpha=0.5)
    assert float(loss_fn(truth, truth)) == pytest.approx(0.0, abs=1e-5)

    pred = (truth + 0.3 * torch.randn_like(truth)).requires_grad_(True)
    loss = loss_fn(pred, truth)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0

    # the same MSE (0.09), different structure: a constant offset keeps the structure, noise destroys it
    noise = torch.randn_like(truth)
    noise = 0.3 * noise / noise.square().mean().sqrt()
    offset, noisy = truth + 0.3, truth + noise
    t_offset, t_noisy = loss_fn.terms(offset, truth), loss_fn.terms(noisy, truth)
    assert float(t_offset["mse"]) == pytest.approx(float(t_noisy["mse"]), rel=1e-5)
    assert float(t_offset["ssim"]) > 0.99 > float(t_noisy["ssim"]) + 0.05
    assert float(loss_fn(noisy, truth)) > float(loss_fn(offset, truth)) + 0.02
    # without the mid-range shift SSIM's luminance term punishes the offset of zero-mean maps far harder
    unshifted = SSIMMSELoss(nside, shift=0.0)
    assert float(unshifted.terms(offset, truth)["ssim"]) < 0.6
    # alpha = 1 is the MSE alone: then the two are equal
    mse_only = SSIMMSELoss(nside, alpha=1.0)
    assert float(mse_only(noisy, truth)) == pytest.approx(float(mse_only(offset, truth)), rel=1e-5)


def test_bad_spec_parameters_and_inputs() -> None:
    with pytest.raises(DataError, match=r"extra\['nside'\] is missing"):
        SkyReconNet(DataSpec((2, 768), 1, "reconstruction"))
    with pytest.raises(DataError, match=r"expected \(2, 768\)"):
        SkyReconNet(DataSpec((2, 192), 1, "reconstruction", extra={"nside": 8}))
    with pytest.raises(DataError, match="power of 2"):
        SkyReconNet(DataSpec((2, 432), 1, "reconstruction", extra={"nside": 6}))
    with pytest.raises(ConfigError, match="channels"):
        SkyReconNet(_spec(8), channels=())
    with pytest.raises(ConfigError, match="5 levels need Nside >= 16"):
        SkyReconNet(_spec(8), channels=(4, 4, 4, 4, 4))
    with pytest.raises(ConfigError, match="dilations"):
        SkyReconNet(_spec(8), dilations=(1, 0))
    with pytest.raises(ConfigError, match="blocks_per_level"):
        SkyReconNet(_spec(8), blocks_per_level=0)
    with pytest.raises(DataError, match=r"expected \(B, 2, 768\)"):
        SkyReconNet(_spec(8), channels=(4,))(torch.zeros(1, 1, 768))
    # the pipeline's check of model.params against the signature
    with pytest.raises(ConfigError, match=r"model\.params\.blocks_per_level"):
        check_params("model", "cmb.skyreconnet", SkyReconNet, {"blocks_per_level": 0})
    assert check_params("model", "cmb.skyreconnet", SkyReconNet, {"channels": [8, 16]}) == {"channels": [8, 16]}
    with pytest.raises(ConfigError, match="win_size"):
        SSIMMSELoss(2, win_size=7)
    with pytest.raises(ConfigError, match="alpha"):
        SSIMMSELoss(8, alpha=1.5)
    with pytest.raises(DataError, match=r"expected both \(B, 1, 768\)"):
        SSIMMSELoss(8)(torch.zeros(1, 1, 768), torch.zeros(1, 2, 768))
