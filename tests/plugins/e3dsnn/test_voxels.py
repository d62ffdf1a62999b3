"""Spike Voxel Coding's input side: unit-sphere normalisation, the official augmentation, grid sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv_e3dsnn.voxels import ShapeClouds, clouds_to_voxels, normalise_to_unit_sphere


def test_normalise_to_unit_sphere_centres_and_scales_xyz_only() -> None:
    rng = np.random.default_rng(0)
    points = np.concatenate((rng.normal(5.0, 3.0, (2, 50, 3)), rng.normal(size=(2, 50, 3))), axis=2)
    out = normalise_to_unit_sphere(points)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[..., :3].mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out[..., :3], axis=2).max(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[..., 3:], points[..., 3:], rtol=1e-6)


def test_augmentation_scales_and_shifts_within_the_official_ranges() -> None:
    rng = np.random.default_rng(1)
    cloud = normalise_to_unit_sphere(np.concatenate((rng.normal(size=(1, 40, 3)), np.ones((1, 40, 3))), axis=2))
    data = ShapeClouds(cloud, np.array([3]), augment=True)
    torch.manual_seed(0)
    factors = []
    for _ in range(30):
        x, y = data[0]
        assert int(y) == 3
        torch.testing.assert_close(x[:, 3:], torch.ones(40, 3))  # normals unchanged
        base = torch.from_numpy(cloud[0, :, :3])
        centred_in, centred_out = base - base.mean(0), x[:, :3] - x[:, :3].mean(0)
        factor = float(centred_out.norm() / centred_in.norm())
        shift = x[:, :3].mean(0) - factor * base.mean(0)
        assert 0.9 - 1e-5 <= factor <= 1.1 + 1e-5 and bool((shift.abs() <= 0.2 + 1e-5).all())
        factors.append(factor)
    assert np.std(factors) > 0.02
    plain = ShapeClouds(cloud, np.array([3]))
    torch.testing.assert_close(plain[0][0], torch.from_numpy(cloud[0]))


def test_clouds_to_voxels_one_site_per_occupied_cell_on_a_multiple_of_16() -> None:
    xyz = torch.tensor([[[0.0, 0.0, 0.0], [0.05, 0.05, 0.05], [0.5, 0.0, 0.0], [1.0, 1.0, 0.95]]])
    clouds = torch.cat((xyz, torch.arange(12.0).reshape(1, 4, 3)), dim=2)
    inputs = clouds_to_voxels(clouds, 0.1)
    assert inputs["features"].shape == (3, 6) and int(inputs["batch_size"]) == 1
    assert inputs["spatial_shape"].tolist() == [16, 16, 16]
    coords = {tuple(c) for c in inputs["coords"].tolist()}
    assert coords == {(0, 0, 0, 0), (0, 5, 0, 0), (0, 10, 10, 9)}
    first = inputs["features"][inputs["coords"][:, 1:].sum(1) == 0][0]
    torch.testing.assert_close(first, clouds[0, 0])  # the first point of the shared cell
    with pytest.raises(ValueError, match="voxel_size"):
        clouds_to_voxels(clouds, 0.0)
