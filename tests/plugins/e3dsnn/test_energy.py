"""The energy account: operations from the rulebooks actually used, SOPs from the firing rates, the 45 nm
figures, the ANN twin at MAC cost."""

from __future__ import annotations

import pytest
import torch

from sciconv.conv.sparse import get_rulebook
from sciconv.spec import DataSpec
from sciconv_e3dsnn.energy import E_AC_PJ, E_MAC_PJ, energy_account
from sciconv_e3dsnn.models.e3dsnn import E3DSNN, sparse_input
from sciconv_e3dsnn.voxels import clouds_to_voxels


def _net(neuron: str = "multispike") -> torch.nn.Module:
    torch.manual_seed(0)
    spec = DataSpec((40, 6), 3, task_type="classification", classes=("a", "b", "c"))
    model = E3DSNN(spec, embed_channels=4, stage_channels=[4, 8, 8, 8], voxel_size=0.2, neuron=neuron)  # type: ignore[arg-type]
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def _inputs(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return clouds_to_voxels(torch.rand(2, 40, 6, generator=g) * 2 - 1, 0.2)


def test_operations_come_from_the_rulebooks_and_sops_from_the_firing_rates() -> None:
    model = _net()
    batches = [_inputs(0), _inputs(1)]
    account = energy_account(model, batches)
    assert account.samples == 4 and len(account.layers) == len(model.units())
    first = account.layers[0]
    pairs = sum(get_rulebook(sparse_input(b), 3, submanifold=True).num_pairs for b in batches) / 4
    assert first.pairs == pytest.approx(pairs)
    assert first.ops == pytest.approx(2 * pairs * 6 * 4)
    assert not first.spiking_input and first.firing_rate is None and first.sops == 0
    assert first.energy_pj == pytest.approx(E_MAC_PJ * first.ops)
    spiking = [layer for layer in account.layers if layer.spiking_input]
    assert len(spiking) == len(account.layers) - 2  # all but the first conv and the head
    assert any(layer.firing_rate > 0 for layer in spiking)
    for layer in spiking:
        assert 0 <= layer.firing_rate <= 1
        assert layer.sops == pytest.approx(layer.firing_rate * 4 * layer.ops)
        assert layer.energy_pj == pytest.approx(E_AC_PJ * layer.sops)
    assert account.energy_mj == pytest.approx(sum(layer.energy_pj for layer in account.layers) * 1e-9)
    assert account.firing_rate == pytest.approx(sum(layer.firing_rate for layer in spiking) / len(spiking))
    assert model.training and not any(unit.record for _, unit in model.units())


def test_ann_twin_pays_mac_energy_on_the_same_rulebooks() -> None:
    batches = [_inputs(2)]
    snn, ann = energy_account(_net(), batches), energy_account(_net("relu"), batches)
    assert ann.firing_rate is None and ann.sops == 0
    for s, a in zip(snn.layers, ann.layers, strict=True):
        assert s.pairs == a.pairs and a.energy_pj == pytest.approx(E_MAC_PJ * a.ops)
    assert ann.energy_mj == pytest.approx(E_MAC_PJ * ann.ops * 1e-9)
    assert ann.energy_mj > snn.energy_mj
