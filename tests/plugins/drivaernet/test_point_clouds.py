"""The networks' inputs: the official augmentation, per-cloud min-max normalisation, resampled draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv_drivaernet.point_clouds import CloudDataset, augment_cloud, normalise_cloud


def _cloud(n: int = 200, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=g) * torch.tensor([4.6, 1.8, 1.4])


def test_augmentation_scales_shifts_and_jitters_within_the_official_ranges() -> None:
    cloud = _cloud()
    for seed in range(20):
        out = augment_cloud(cloud, torch.Generator().manual_seed(seed))
        # a per-axis affine map plus jitter of at most 0.02: recover scale and shift by least squares per axis
        for axis in range(3):
            a = np.stack([cloud[:, axis].numpy(), np.ones(len(cloud))], axis=1)
            (scale, shift), *_ = np.linalg.lstsq(a, out[:, axis].numpy(), rcond=None)
            assert 2 / 3 - 0.01 <= scale <= 1.5 + 0.01 and -0.21 <= shift <= 0.21
            residual = out[:, axis].numpy() - (scale * cloud[:, axis].numpy() + shift)
            assert np.abs(residual).max() <= 0.025 and residual.std() > 0.003  # clip 0.02, plus the fit's error
    a = augment_cloud(cloud, torch.Generator().manual_seed(1))
    assert torch.equal(a, augment_cloud(cloud, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, augment_cloud(cloud, torch.Generator().manual_seed(2)))


def test_minmax_normalisation_undoes_scale_and_shift_leaving_the_jitter() -> None:
    cloud = _cloud()
    normalised = normalise_cloud(cloud, "minmax")
    assert torch.allclose(normalised.amin(0), torch.zeros(3)) and torch.allclose(normalised.amax(0), torch.ones(3))
    stretched = cloud * torch.tensor([1.4, 0.7, 1.2]) + torch.tensor([0.1, -0.2, 0.05])
    assert torch.allclose(normalise_cloud(stretched, "minmax"), normalised, atol=1e-5)
    assert torch.equal(normalise_cloud(cloud, "none"), cloud)


def test_cloud_dataset_items_resamples_and_evaluation_inputs() -> None:
    points = torch.stack([torch.stack([_cloud(seed=10 * d + r) for r in range(3)]) for d in range(4)]).numpy()
    targets = np.array([0.25, 0.3, np.nan, 0.28])
    evaluation = CloudDataset(points, targets, augment=False, normalise="minmax")
    x, y = evaluation[1]
    assert x.shape == (3, 200) and y.shape == (1,) and float(y) == pytest.approx(0.3)
    assert torch.allclose(x.T, normalise_cloud(torch.from_numpy(points[1, 0]), "minmax"))
    assert torch.equal(evaluation.inputs()[1], x)
    training = CloudDataset(points, targets, augment=True, normalise="none")
    torch.manual_seed(0)
    draws = [training[0][0] for _ in range(30)]
    # augmented every time, and drawn from the three subsamples (their points differ)
    assert all(not torch.equal(draws[0], d) for d in draws[1:])
    nearest = [
        int(np.argmin([np.abs(d.T.numpy().mean(0) - points[0, r].mean(0)).sum() for r in range(3)])) for d in draws
    ]
    assert len(set(nearest)) >= 2
    with pytest.raises(ValueError, match=r"expected \(n, R, N, 3\)"):
        CloudDataset(points[:, 0], targets, augment=False, normalise="none")
    with pytest.raises(ValueError, match="4 clouds but 3 targets"):
        CloudDataset(points, targets[:3], augment=False, normalise="none")
