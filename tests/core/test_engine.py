"""The training engine: learning, validation, early stopping, seeding, devices."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from sciconv.config import EarlyStoppingConfig, TrainConfig
from sciconv.engine import Engine, resolve_device
from sciconv.errors import ConfigError, TrainingDivergedError
from sciconv.kit import accuracy
from sciconv.seeding import seed_everything


def blobs(n: int = 200, seed: int = 0) -> TensorDataset:
    """Two Gaussian blobs in 2D, linearly separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2.0 - 1.0) * 1.5
    return TensorDataset(x, y)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def config(**kw: object) -> TrainConfig:
    base = {"epochs": 5, "batch_size": 32, "lr": 0.01, "progress": False}
    base.update(kw)
    return TrainConfig.model_validate(base)


def test_fit_learns_and_records_history() -> None:
    seed_everything(0)
    engine = Engine(config(epochs=10))
    result = engine.fit(mlp(), blobs(), blobs(seed=1), metrics={"accuracy": accuracy})
    assert [r["epoch"] for r in result.history] == list(range(1, 11))
    assert {"fit", "train_loss", "val_loss", "val_accuracy", "lr", "time_s"} <= set(result.history[0])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert engine.evaluate(result.model, blobs(seed=2), metrics={"accuracy": accuracy})["accuracy"] > 0.95


def test_same_seed_same_history_and_different_seed_differs() -> None:
    def run(seed: int) -> list[float]:
        seed_everything(seed)
        return [r["train_loss"] for r in Engine(config(seed=seed)).fit(mlp(), blobs(), blobs(seed=1)).history]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_early_stopping_stops_and_restores_best() -> None:
    seed_everything(0)
    # Validation labels are the opposite of training labels: val loss rises as training succeeds.
    train = blobs()
    x, y = blobs(seed=1).tensors
    flipped = TensorDataset(x, 1 - y)
    cfg = config(epochs=50, early_stopping=EarlyStoppingConfig(patience=3, monitor="val_loss", mode="min"))
    result = Engine(cfg).fit(mlp(), train, flipped)
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 3
    best = min(r["val_loss"] for r in result.history)
    assert result.best_value == pytest.approx(best)
    # The model returned is the best epoch's: its validation loss is the best one recorded.
    restored = Engine(cfg).evaluate(result.model, flipped)["loss"]
    assert restored == pytest.approx(best, rel=1e-5)


def test_no_early_stopping_without_validation() -> None:
    cfg = config(epochs=4, early_stopping=EarlyStoppingConfig(patience=1))
    result = Engine(cfg).fit(mlp(), blobs())
    assert len(result.history) == 4 and not result.stopped_early


def test_unknown_monitor_is_a_config_error() -> None:
    cfg = config(early_stopping=EarlyStoppingConfig(patience=2, monitor="val_acc"))
    with pytest.raises(ConfigError, match=r"val_acc.*measured: train_loss, val_loss, val_accuracy"):
        Engine(cfg).fit(mlp(), blobs(), blobs(seed=1), metrics={"accuracy": accuracy})


def test_per_fit_overrides_are_validated() -> None:
    engine = Engine(config())
    result = engine.fit(mlp(), blobs(), epochs=2, batch_size=200)
    assert len(result.history) == 2
    with pytest.raises(Exception, match="epochs"):
        engine.fit(mlp(), blobs(), epochs=0)


def test_diverging_loss_is_reported() -> None:
    x, y = blobs().tensors
    bad = TensorDataset(x * float("inf"), y)
    with pytest.raises(TrainingDivergedError, match="fit 'model' diverged at epoch 1, batch 1: the training loss is"):
        Engine(config()).fit(mlp(), bad)


def test_nan_validation_metric_stops_the_fit_with_the_epoch_and_value() -> None:
    """A fit whose validation loss is NaN (finite training loss) stops at that epoch instead of going on."""
    train, val = blobs(), blobs(seed=1)
    x, y = val.tensors
    bad_val = TensorDataset(torch.where(torch.arange(len(x))[:, None] == 0, float("nan"), x), y)
    records: list[dict] = []
    engine = Engine(config(epochs=3), on_epoch=records.append)
    with pytest.raises(
        TrainingDivergedError, match=r"fit 'model' diverged at epoch 1: val_loss is nan.*train\.lr="
    ) as info:
        engine.fit(mlp(), train, bad_val)
    assert "learning rate" in str(info.value)
    assert [r["epoch"] for r in records] == [1], "the diverged epoch is recorded, then the fit stops"


def test_evaluate_refuses_to_report_a_nan_loss() -> None:
    x, y = blobs().tensors
    model = mlp()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="outputs are not finite"):
        Engine(config()).evaluate(model, TensorDataset(x, y))


def test_device_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda() -> None:
    result = Engine(config(device="cuda")).fit(mlp(), blobs(), blobs(seed=1))
    assert next(result.model.parameters()).device.type == "cuda"


def test_evaluate_runs_the_loss_where_training_runs_it() -> None:
    """A loss holding device tensors (class weights) works in evaluate as in training."""
    engine = Engine(config(epochs=1))
    weight = torch.tensor([1.0, 3.0], device=engine.device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    result = engine.fit(mlp(), blobs(), blobs(seed=1), loss_fn=loss_fn)
    got = engine.evaluate(result.model, blobs(seed=1), loss_fn=loss_fn)["loss"]
    outputs, targets = engine.predict(result.model, blobs(seed=1))
    expected = nn.CrossEntropyLoss(weight=weight.cpu())(outputs, targets).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_no_weight_decay_exempts_named_parameters() -> None:
    class Exempt(nn.Sequential):
        def no_weight_decay(self) -> list[str]:
            return ["0.bias"]

    def trained(net: nn.Sequential, weight_decay: float) -> nn.Sequential:
        with torch.no_grad():
            net[0].weight.fill_(1.0)
            net[0].bias.copy_(torch.tensor([0.5, -0.5]))
        # Zero inputs: the weights get no gradient from the loss, so only decay moves them.
        data = TensorDataset(torch.zeros(4, 2), torch.tensor([0, 1, 1, 1]))
        cfg = config(epochs=3, batch_size=4, optimizer="sgd", momentum=0.0, lr=0.1, weight_decay=weight_decay)
        Engine(cfg).fit(net, data)
        return net

    exempt = trained(Exempt(nn.Linear(2, 2)), weight_decay=0.5)
    decayed = trained(nn.Sequential(nn.Linear(2, 2)), weight_decay=0.5)
    undecayed = trained(nn.Sequential(nn.Linear(2, 2)), weight_decay=0.0)
    assert torch.allclose(exempt[0].weight, torch.full((2, 2), 0.95**3))
    assert torch.allclose(exempt[0].bias, undecayed[0].bias)
    assert not torch.allclose(exempt[0].bias, decayed[0].bias)


def test_sgd_nesterov_option() -> None:
    from sciconv.engine import _make_optimizer

    net = nn.Linear(2, 2)
    assert _make_optimizer(config(optimizer="sgd", nesterov=True), net).defaults["nesterov"] is True
    assert _make_optimizer(config(optimizer="sgd"), net).defaults["nesterov"] is False
    with pytest.raises(ConfigError, match="nesterov"):
        _make_optimizer(config(optimizer="sgd", nesterov=True, momentum=0.0), net)


def test_learning_rate_schedules() -> None:
    from sciconv.config import SchedulerConfig
    from sciconv.engine import lr_factor

    constant = SchedulerConfig()
    assert [lr_factor(e, 5, constant, 0.1) for e in range(5)] == [1.0] * 5
    cosine = SchedulerConfig(name="cosine", min_lr=0.01)
    factors = [lr_factor(e, 5, cosine, 0.1) for e in range(5)]
    assert factors[0] == 1.0 and factors[-1] == pytest.approx(0.1) and factors[2] == pytest.approx(0.55)
    assert all(a > b for a, b in itertools.pairwise(factors))
    warm = SchedulerConfig(name="warmup_cosine", warmup_epochs=3)
    factors = [lr_factor(e, 8, warm, 0.1) for e in range(8)]
    assert factors[:3] == pytest.approx([1 / 3, 2 / 3, 1.0]) and factors[3] == 1.0 and factors[-1] == pytest.approx(0.0)
    # the engine uses it epoch by epoch, and records the rate each epoch trained at
    seed_everything(0)
    engine = Engine(config(epochs=8, lr=0.1, scheduler={"name": "warmup_cosine", "warmup_epochs": 3}))
    history = engine.fit(mlp(), blobs()).history
    assert [r["lr"] for r in history] == pytest.approx([0.1 * f for f in factors])
    # MultiStepLR's steps: the rate falls by gamma after each milestone epoch has completed
    steps = SchedulerConfig(name="multistep", milestones=[2, 4], gamma=0.5)
    assert [lr_factor(e, 6, steps, 0.1) for e in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    seed_everything(0)
    engine = Engine(config(epochs=6, lr=0.1, scheduler={"name": "multistep", "milestones": [2, 4], "gamma": 0.5}))
    assert [r["lr"] for r in engine.fit(mlp(), blobs()).history] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    with pytest.raises(ConfigError, match=r"warmup_epochs \(8\) must be below train.epochs \(8\)"):
        Engine(config(epochs=8, scheduler={"name": "warmup_cosine", "warmup_epochs": 8})).fit(mlp(), blobs())


def test_plateau_schedule_follows_the_validation_loss_and_resumes(tmp_path) -> None:
    # Validation labels opposite to the training labels: the validation loss rises from the start, so after
    # `patience` + 1 epochs without improvement the rate falls by gamma (torch's ReduceLROnPlateau).
    x, y = blobs(seed=1).tensors
    flipped = TensorDataset(x, 1 - y)
    schedule = {"name": "plateau", "patience": 1, "gamma": 0.5, "min_lr": 0.02}
    seed_everything(0)
    history = Engine(config(epochs=6, lr=0.1, scheduler=schedule)).fit(mlp(), blobs(), flipped).history
    losses = [r["val_loss"] for r in history]
    assert all(a < b for a, b in itertools.pairwise(losses[:3]))
    assert [r["lr"] for r in history] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    # a fit stopped after 3 epochs and resumed trains its remaining epochs at the same rates
    seed_everything(0)
    Engine(config(epochs=3, lr=0.1, scheduler=schedule), checkpoint_root=tmp_path).fit(mlp(), blobs(), flipped)
    seed_everything(0)
    engine = Engine(config(epochs=6, lr=0.1, scheduler=schedule), checkpoint_root=tmp_path, resume=True)
    resumed = engine.fit(mlp(), blobs(), flipped).history
    assert [r["lr"] for r in resumed] == pytest.approx([r["lr"] for r in history])
    with pytest.raises(ConfigError, match="plateau steps on the validation loss"):
        Engine(config(scheduler=schedule)).fit(mlp(), blobs())
    with pytest.raises(ConfigError, match="gamma must be below 1"):
        Engine(config(scheduler={"name": "plateau", "gamma": 2.0})).fit(mlp(), blobs(), flipped)


class _PenalisedLinear(nn.Module):
    """A linear classifier whose ``auxiliary_loss()`` pulls an extra parameter, unused by the output, to 3."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.extra = nn.Parameter(torch.zeros(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x)

    def auxiliary_loss(self) -> torch.Tensor:
        return (self.extra - 3.0).square()


def test_fit_adds_the_models_auxiliary_loss() -> None:
    """A model's ``auxiliary_loss()`` (a mixture of experts' balance loss) is added to the task's loss while
    training: a parameter that only that term reaches is trained, and the recorded loss includes it."""
    seed_everything(0)
    model = _PenalisedLinear()
    result = Engine(config(epochs=20, lr=0.1, optimizer="sgd")).fit(model, blobs())
    assert abs(float(model.extra) - 3.0) < 0.1
    # the first epoch's mean loss holds the penalty, (0 - 3)^2 = 9 at its first batch; cross-entropy alone is < 1
    assert result.history[0]["train_loss"] > 2.0
    assert result.history[-1]["train_loss"] < 1.0


def test_on_epoch_start_runs_before_every_epoch() -> None:
    """A task's schedule hook: called with the 1-based epoch before that epoch trains."""
    seed_everything(0)
    seen: list[int] = []
    Engine(config(epochs=4)).fit(mlp(), blobs(), on_epoch_start=seen.append)
    assert seen == [1, 2, 3, 4]


def test_drop_last_leaves_out_the_incomplete_batch() -> None:
    # 33 samples in batches of 8: the fifth batch holds one sample, which batch normalisation cannot train on
    x, y = blobs(33).tensors
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        Engine(config(epochs=1, batch_size=8)).fit(model, TensorDataset(x, y))
    seen: list[int] = []
    model.register_forward_hook(lambda module, args, output: seen.append(len(args[0])))
    Engine(config(epochs=1, batch_size=8, drop_last=True)).fit(model, TensorDataset(x, y))
    assert seen == [8, 8, 8, 8]
    with pytest.raises(ConfigError, match="leaves no batch"):
        Engine(config(batch_size=64, drop_last=True)).fit(model, TensorDataset(x, y))
