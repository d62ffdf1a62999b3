"""The training engine: one loop for every task.

:class:`Engine` trains a model on a map-style dataset of ``(x, y)`` items: device placement (CPU, or
CUDA when present), mini-batches, optimizer, gradient clipping, validation each epoch, early stopping,
metric history, a rich progress bar, checkpoints every ``checkpoint_every`` epochs and resuming from
them. Resuming restores weights, optimizer, the data order and every RNG, so a killed run continued
with ``--resume`` ends with the same numbers as an uninterrupted one.

In a DDP run (:mod:`sciconv.distributed`) the same calls train data-parallel: the model is wrapped in
``DistributedDataParallel``, each rank takes its share of every global batch (:class:`ShardedBatchSampler`),
predictions are gathered, and rank 0 alone writes checkpoints, which hold every rank's random state.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler, Subset

from sciconv import distributed
from sciconv.checkpoint import (
    Checkpoint,
    capture_rng,
    latest_checkpoint,
    load_weights,
    remove_stale_temporaries,
    restore_rng,
    save_weights,
    write_checkpoint,
)
from sciconv.config import SchedulerConfig, TrainConfig
from sciconv.errors import CheckpointError, ConfigError, TrainingDivergedError
from sciconv.malloc import tune_malloc
from sciconv.seeding import derive_seed, seed_everything

# Keep freed tensor memory for reuse instead of returning it to the OS after every step (glibc only; 1.3x to
# 1.9x faster training steps of real pipelines in benchmarks/malloc.py). SCICONV_MALLOC_TUNING=0 disables it.
tune_malloc()

Metric = Callable[[torch.Tensor, torch.Tensor], float]
"""``metric(outputs, targets) -> float`` over a whole split (outputs and targets on CPU)."""
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def auxiliary_loss(model: nn.Module) -> torch.Tensor | None:
    """The model's own loss term of its last forward, or ``None``: a model may define ``auxiliary_loss()``
    (a mixture of experts' balance loss, for example), which training adds to the task's loss. Under DDP the
    wrapped module's."""
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    method = getattr(inner, "auxiliary_loss", None)
    return method() if callable(method) else None


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is a :class:`ConfigError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name!r} but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors inside nested tuples, lists and dicts to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@dataclass
class FitResult:
    """The outcome of :meth:`Engine.fit`: the model (best epoch's weights when early stopping
    restores them), the per-epoch history and how training ended."""

    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int | None
    best_value: float | None
    stopped_early: bool
    resumed_from: int | None = None


@dataclass
class Engine:
    """Runs training loops with one configuration.

    Args:
        config: the pipeline's ``train`` section; :meth:`fit` may override fields per call.
        checkpoint_root: where each fit writes ``<root>/<name>/epoch-NNNNNN``; ``None`` disables
            checkpoints.
        resume: continue each fit from its latest checkpoint under ``checkpoint_root``.
        on_epoch: called with each epoch's record (also for records restored on resume).
    """

    config: TrainConfig = field(default_factory=TrainConfig)
    checkpoint_root: Path | None = None
    resume: bool = False
    on_epoch: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        self.device = resolve_device(self.config.device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())  # a DDP rank's own GPU

    # -- public --------------------------------------------------------------------------------

    def fit(
        self,
        model: nn.Module,
        train_data: Any,
        val_data: Any = None,
        *,
        loss_fn: LossFn | None = None,
        metrics: Mapping[str, Metric] | None = None,
        name: str = "model",
        collate_fn: Callable[..., Any] | None = None,
        on_epoch_start: Callable[[int], None] | None = None,
        **overrides: Any,
    ) -> FitResult:
        """Train ``model`` on ``train_data``, validating on ``val_data`` after every epoch.

        ``loss_fn`` defaults to cross-entropy. ``metrics`` are computed on the validation split
        (keys ``val_<metric>``); ``overrides`` replace :class:`TrainConfig` fields for this fit only
        (e.g. ``epochs=1000, batch_size=len(data)``). ``name`` keeps the checkpoints of several fits
        in one run apart (``stage1``, ``subject-03``). ``on_epoch_start(epoch)`` (1-based) runs before each
        training epoch, also the first one after a resume: a task's own schedule (a teacher-forcing probability, a
        curriculum) set on the model from the epoch number alone, so that a resumed fit follows it too.
        """
        cfg = self.config.model_copy(update=overrides) if overrides else self.config
        if overrides:
            cfg = TrainConfig.model_validate(cfg.model_dump())
        loss_fn = loss_fn or nn.CrossEntropyLoss()
        metrics = dict(metrics or {})
        model.to(self.device)
        optimizer = _make_optimizer(cfg, model)
        scheduler = _make_scheduler(cfg, optimizer)
        if len(train_data) == 0:
            raise ConfigError(f"fit {name!r}: the training split is empty")
        if cfg.drop_last and len(train_data) < cfg.batch_size:
            raise ConfigError(
                f"fit {name!r}: train.drop_last with {len(train_data)} training samples and train.batch_size "
                f"{cfg.batch_size} leaves no batch; lower the batch size"
            )
        plateau = cfg.scheduler.name == "plateau"
        if plateau and (val_data is None or len(val_data) == 0):
            raise ConfigError(
                f"fit {name!r}: train.scheduler.name=plateau steps on the validation loss, and this fit has no "
                "validation split; choose another schedule"
            )
        ddp = distributed.active()
        world = distributed.world()
        generator = torch.Generator().manual_seed(derive_seed(cfg.seed, name))
        if ddp:
            # The single-process order of samples and batches, each global batch split among the ranks.
            batches = ShardedBatchSampler(
                BatchSampler(RandomSampler(train_data, generator=generator), cfg.batch_size, drop_last=cfg.drop_last),
                rank=world.rank,
                world_size=world.world_size,
            )
            loader = DataLoader(train_data, batch_sampler=batches, generator=generator, collate_fn=collate_fn)
        else:
            loader = DataLoader(
                train_data,
                batch_size=cfg.batch_size,
                shuffle=True,
                generator=generator,
                collate_fn=collate_fn,
                drop_last=cfg.drop_last,
            )
        es = cfg.early_stopping
        ckpt_dir = self.checkpoint_root / name if self.checkpoint_root is not None else None

        history: list[dict[str, Any]] = []
        best_value: float | None = None
        best_epoch: int | None = None
        best_state: dict[str, torch.Tensor] | None = None
        bad_epochs = 0
        start_epoch = 1
        resumed_from: int | None = None
        stopped_early = False
        training_rng: dict[str, Any] | None = None
        initial_loss: float | None = None  # the first batch's loss before any update (see max_loss_growth)

        if self.resume and ckpt_dir is not None:
            remove_stale_temporaries(ckpt_dir)
            ckpt = latest_checkpoint(ckpt_dir)
            if ckpt is not None:
                state = ckpt.load_state()
                load_weights(ckpt.model_file, model)
                try:
                    optimizer.load_state_dict(state["optimizer"])
                except (ValueError, KeyError) as exc:
                    raise CheckpointError(f"{ckpt.path}: optimizer state does not fit: {exc}") from None
                if "scheduler" in state:
                    scheduler.load_state_dict(state["scheduler"])
                    # the rate of the next epoch under this fit's schedule (its epoch count may have changed);
                    # a plateau schedule's rate is the optimizer's, restored with its state
                    if not plateau:
                        for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
                            group["lr"] = base * lr_factor(scheduler.last_epoch, cfg.epochs, cfg.scheduler, cfg.lr)
                generator.set_state(state["loader_rng"])
                if not ddp:
                    restore_rng(state["rng"])
                else:
                    ranks = state.get("rng_ranks")
                    if ranks is not None and len(ranks) == world.world_size:
                        training_rng = ranks[world.rank]
                    else:  # written by a run with another number of ranks: the data order still continues
                        training_rng = None
                        if world.is_main:
                            warnings.warn(
                                f"fit {name!r}: the checkpoint was written by {len(ranks or [None])} process(es), "
                                f"this run has {world.world_size}; the ranks' random streams (dropout, "
                                "augmentation) restart from their seeds, so the continuation is not bitwise "
                                "the uninterrupted run",
                                stacklevel=2,
                            )
                history = [dict(r) for r in state["history"]]
                initial_loss = state.get("initial_loss")
                best_value, best_epoch = state["best_value"], state["best_epoch"]
                bad_epochs = int(state["bad_epochs"])
                stopped_early = bool(state["stopped_early"])
                if ckpt.best_file.is_file():
                    best_model = _clone_module_state(model)
                    load_weights(ckpt.best_file, model)
                    best_state = _clone_module_state(model)
                    model.load_state_dict(best_model)
                # A fit that stopped early is done; one that ran its epochs continues only if the
                # (overridden) epoch count now asks for more.
                start_epoch = cfg.epochs + 1 if stopped_early else ckpt.epoch + 1
                resumed_from = ckpt.epoch
                for record in history:
                    self._emit(record)

        train_model: nn.Module = model
        shared_rng: dict[str, Any] | None = None
        if ddp:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(
                model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )
            # Each rank draws its own dropout and augmentation noise during training; the stream the task
            # sees afterwards is the one it had before the fit, the same on every rank.
            shared_rng = capture_rng()
            if training_rng is not None:
                restore_rng(training_rng)
            else:
                seed_everything(derive_seed(cfg.seed, f"{name}/rank{world.rank}"))
        progress = _Progress(enabled=cfg.progress and world.is_main, name=name, epochs=cfg.epochs, batches=len(loader))
        try:
            with progress:
                progress.advance_epochs(start_epoch - 1)
                for epoch in range(start_epoch, cfg.epochs + 1):
                    t0 = time.perf_counter()
                    if on_epoch_start is not None:
                        on_epoch_start(epoch)
                    train_loss, first_loss = self._train_epoch(
                        train_model, loader, optimizer, loss_fn, cfg, progress, len(train_data), name, epoch
                    )
                    if initial_loss is None:
                        initial_loss = first_loss
                    record: dict[str, Any] = {"fit": name, "epoch": epoch, "train_loss": train_loss}
                    if val_data is not None and len(val_data) > 0:
                        record.update(
                            {
                                f"val_{k}": v
                                for k, v in self._evaluate(
                                    model,
                                    val_data,
                                    loss_fn=loss_fn,
                                    metrics=metrics,
                                    collate_fn=collate_fn,
                                    batch_size=cfg.batch_size,
                                ).items()
                            }
                        )
                    record["lr"] = optimizer.param_groups[0]["lr"]
                    if plateau:
                        scheduler.step(record["val_loss"])
                    else:
                        scheduler.step()
                    record["time_s"] = time.perf_counter() - t0
                    history.append(record)
                    self._emit(record)
                    _check_finite(record, name, cfg)
                    _check_growth(train_loss, initial_loss, name, epoch, cfg)
                    progress.end_epoch(record)

                    if es.patience is not None or es.restore_best:
                        value = _monitored(record, es.monitor, name)
                        if value is not None:
                            if _improved(value, best_value, es.mode, es.min_delta):
                                best_value, best_epoch, bad_epochs = value, epoch, 0
                                best_state = _clone_module_state(model)
                            else:
                                bad_epochs += 1
                    if es.patience is not None and bad_epochs >= es.patience:
                        stopped_early = True
                    last = epoch == cfg.epochs or stopped_early
                    due = ckpt_dir is not None and (epoch % cfg.checkpoint_every == 0 or last)
                    rng_ranks = distributed.all_gather_objects(capture_rng()) if due and ddp else None
                    if due and world.is_main:
                        write_checkpoint(
                            ckpt_dir,
                            epoch,
                            model,
                            best_state,
                            {
                                "optimizer": optimizer.state_dict(),
                                "scheduler": scheduler.state_dict(),
                                "loader_rng": generator.get_state(),
                                "rng": capture_rng() if rng_ranks is None else rng_ranks[0],
                                "rng_ranks": rng_ranks,
                                "history": history,
                                "initial_loss": initial_loss,
                                "best_value": best_value,
                                "best_epoch": best_epoch,
                                "bad_epochs": bad_epochs,
                                "stopped_early": stopped_early,
                                "finished": last,
                            },
                            keep=cfg.keep_checkpoints,
                        )
                    if stopped_early:
                        break
        finally:
            progress.close()
            if shared_rng is not None:
                restore_rng(shared_rng)

        if es.restore_best and best_state is not None:
            model.load_state_dict(best_state)
        if ckpt_dir is not None and world.is_main:
            save_weights(ckpt_dir / "model.safetensors", model)
        return FitResult(
            model=model,
            history=history,
            best_epoch=best_epoch,
            best_value=best_value,
            stopped_early=stopped_early,
            resumed_from=resumed_from,
        )

    @torch.no_grad()
    def predict(
        self,
        model: nn.Module,
        data: Any,
        batch_size: int | None = None,
        collate_fn: Callable[..., Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Model outputs and targets over a whole dataset, concatenated on CPU, in dataset order.

        Under DDP each rank predicts its contiguous shard with rank 0's buffers (batch-norm statistics, which
        training leaves rank-specific) and the shards are gathered, so every rank returns the whole result.
        """
        if distributed.active():
            world = distributed.world()
            model.to(self.device)
            distributed.broadcast_buffers(model)  # every rank scores rank 0's model, the one checkpoints hold
            start, stop = distributed.shard_bounds(len(data), world.world_size, world.rank)
            with distributed.local_only():
                local = (
                    self.predict(model, Subset(data, range(start, stop)), batch_size, collate_fn)
                    if stop > start
                    else None
                )
            parts = [part for part in distributed.all_gather_objects(local) if part is not None]
            return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        model.to(self.device)
        was_training = model.training
        model.eval()
        outputs, targets = [], []
        loader = DataLoader(data, batch_size=batch_size or self.config.batch_size, shuffle=False, collate_fn=collate_fn)
        for x, y in loader:
            outputs.append(model(to_device(x, self.device)).detach().cpu())
            targets.append(y.detach().cpu() if isinstance(y, torch.Tensor) else torch.as_tensor(y))
        model.train(was_training)
        return torch.cat(outputs), torch.cat(targets)

    def evaluate(
        self,
        model: nn.Module,
        data: Any,
        *,
        loss_fn: LossFn | None = None,
        metrics: Mapping[str, Metric] | None = None,
        batch_size: int | None = None,
        collate_fn: Callable[..., Any] | None = None,
    ) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` of ``model`` on ``data`` (eval mode, no gradients).

        A NaN or infinite loss (a model whose outputs are not finite) raises :class:`TrainingDivergedError`
        instead of being returned as a result."""
        result = self._evaluate(
            model, data, loss_fn=loss_fn, metrics=metrics, batch_size=batch_size, collate_fn=collate_fn
        )
        if not math.isfinite(result["loss"]):
            raise TrainingDivergedError(
                f"evaluating the model on {len(data)} samples gave a loss of {result['loss']}: its outputs are not "
                f"finite; {_DIVERGENCE_CAUSES.format(lr=self.config.lr)}"
            )
        return result

    def _evaluate(
        self,
        model: nn.Module,
        data: Any,
        *,
        loss_fn: LossFn | None = None,
        metrics: Mapping[str, Metric] | None = None,
        batch_size: int | None = None,
        collate_fn: Callable[..., Any] | None = None,
    ) -> dict[str, float]:
        outputs, targets = self.predict(model, data, batch_size=batch_size, collate_fn=collate_fn)
        loss_fn = loss_fn or nn.CrossEntropyLoss()
        # The loss runs where training runs it (a loss may hold tensors on the device, e.g. class weights).
        loss = loss_fn(outputs.to(self.device), targets.to(self.device))
        result = {"loss": float(loss.item())}
        for key, metric in (metrics or {}).items():
            result[key] = float(metric(outputs, targets))
        return result

    # -- internals -----------------------------------------------------------------------------

    def _train_epoch(
        self,
        model: nn.Module,
        loader: DataLoader,
        optimizer: torch.optim.Optimizer,
        loss_fn: LossFn,
        cfg: TrainConfig,
        progress: _Progress,
        n_train: int,
        name: str = "model",
        epoch: int = 1,
    ) -> tuple[float, float]:
        """One epoch; the mean training loss over the epoch's samples (over all ranks under DDP), and the
        loss of its first batch (before that batch's update)."""
        model.train()
        total, count = 0.0, 0
        first: float | None = None
        sharded = isinstance(loader.batch_sampler, ShardedBatchSampler)
        for step, (x, y) in enumerate(loader):
            x, y = to_device(x, self.device), to_device(y, self.device)
            optimizer.zero_grad(set_to_none=True)
            try:
                outputs = model(x)
            except RuntimeError as exc:
                if sharded and "find_unused_parameters" in str(exc):
                    raise ConfigError(
                        "some of the model's parameters got no gradient in the last training step, which DDP "
                        "must be told: set train.find_unused_parameters=true"
                    ) from None
                raise
            loss = loss_fn(outputs, y)
            auxiliary = auxiliary_loss(model)
            if auxiliary is not None:
                loss = loss + auxiliary
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"fit {name!r} diverged at epoch {epoch}, batch {step + 1}: the training loss is "
                    f"{loss.item()}; {_DIVERGENCE_CAUSES.format(lr=cfg.lr)}"
                )
            if sharded:
                # DDP averages the ranks' gradients; weighting each rank's mean loss by its share of the
                # global batch makes that the gradient of the global batch's mean loss.
                n, n_global, world_size = loader.batch_sampler.sizes(step, n_train)
                (loss * (n * world_size / n_global)).backward()
            else:
                n = len(y) if hasattr(y, "__len__") else 1
                loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            total += float(loss.item()) * n
            count += n
            if first is None:
                first = float(loss.item())
            progress.advance_batch(total / max(count, 1))
        if sharded:
            total, count = distributed.all_reduce_sum([total, count])
        return total / max(count, 1), float(first if first is not None else 0.0)

    def _emit(self, record: dict[str, Any]) -> None:
        if self.on_epoch is not None:
            self.on_epoch(record)


class ShardedBatchSampler(Sampler[list[int]]):
    """One rank's share of each global batch: the batches of ``batches`` (the single-process order) split
    into contiguous shards, one per rank, sizes differing by at most one.

    A global batch smaller than the number of ranks leaves some ranks without samples; those get the
    batch's first sample with weight zero (:meth:`sizes` reports 0), because every rank must take part in
    every gradient all-reduce.
    """

    def __init__(self, batches: BatchSampler, rank: int, world_size: int) -> None:
        self.batches = batches
        self.rank = rank
        self.world_size = world_size

    def __iter__(self) -> Any:
        for batch in self.batches:
            start, stop = distributed.shard_bounds(len(batch), self.world_size, self.rank)
            yield batch[start:stop] if stop > start else batch[:1]

    def __len__(self) -> int:
        return len(self.batches)

    def sizes(self, step: int, n_samples: int) -> tuple[int, int, int]:
        """``(this rank's samples, the global batch's samples, ranks)`` of batch ``step`` of an epoch over
        ``n_samples`` samples."""
        size = self.batches.batch_size
        assert size is not None
        n_global = min(size, n_samples - step * size)
        start, stop = distributed.shard_bounds(n_global, self.world_size, self.rank)
        return stop - start, n_global, self.world_size


def lr_factor(epoch: int, epochs: int, schedule: SchedulerConfig, lr: float) -> float:
    """The factor on ``lr`` for epoch ``epoch`` (0-based) of ``epochs`` under ``schedule`` (see
    :class:`~sciconv.config.SchedulerConfig`)."""
    if schedule.name in ("constant", "plateau") or lr <= 0:  # plateau: driven by the validation loss instead
        return 1.0
    if schedule.name == "multistep":
        return float(schedule.gamma ** sum(1 for m in schedule.milestones if epoch >= m))
    floor = min(schedule.min_lr / lr, 1.0)
    warmup = schedule.warmup_epochs if schedule.name == "warmup_cosine" else 0
    if epoch < warmup:
        return (epoch + 1) / warmup
    span = max(1, epochs - warmup - 1)
    progress = min(1.0, (epoch - warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> Any:
    """A per-epoch LambdaLR following ``cfg.scheduler`` (a constant factor 1 by default), or, for ``plateau``,
    torch's ReduceLROnPlateau (stepped with the validation loss)."""
    schedule = cfg.scheduler
    if schedule.name == "plateau":
        if schedule.gamma >= 1.0:
            raise ConfigError(f"train.scheduler.gamma must be below 1 for plateau (got {schedule.gamma:g})")
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=schedule.gamma, patience=schedule.patience, min_lr=schedule.min_lr
        )
    if schedule.name == "warmup_cosine" and schedule.warmup_epochs >= cfg.epochs:
        raise ConfigError(
            f"train.scheduler.warmup_epochs ({schedule.warmup_epochs}) must be below train.epochs ({cfg.epochs})"
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(epoch, cfg.epochs, schedule, cfg.lr))


def _make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The configured optimizer. A model may name parameters exempt from weight decay with a
    ``no_weight_decay()`` method returning their names (as timm does; e.g. biases, when the method's
    L2 regularisation covers weights only)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ConfigError("the model has no trainable parameters")
    exempt = set(model.no_weight_decay()) if callable(getattr(model, "no_weight_decay", None)) else set()
    unknown = exempt - {n for n, _ in model.named_parameters()}
    if unknown:
        raise ConfigError(f"no_weight_decay() names parameters the model does not have: {sorted(unknown)}")
    groups = [
        {"params": [p for n, p in named if n not in exempt], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in named if n in exempt], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.nesterov and cfg.momentum <= 0:
        raise ConfigError("train.nesterov=true needs train.momentum > 0")
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)


_DIVERGENCE_CAUSES = (
    "this usually means the learning rate is too high for this model and data (train.lr={lr:g}; try 10 times "
    "lower, or set train.grad_clip=1.0) or that the inputs hold NaN or infinite values"
)


def _check_finite(record: Mapping[str, Any], name: str, cfg: TrainConfig) -> None:
    """Stop a fit whose epoch record holds a NaN or infinite loss or metric (a diverged fit)."""
    bad = [
        f"{key} is {value}"
        for key, value in record.items()
        if key not in ("fit", "epoch", "lr", "time_s") and isinstance(value, float) and not math.isfinite(value)
    ]
    if bad:
        raise TrainingDivergedError(
            f"fit {name!r} diverged at epoch {record['epoch']}: {', '.join(bad)}; "
            + _DIVERGENCE_CAUSES.format(lr=cfg.lr)
        )


def _check_growth(train_loss: float, initial: float | None, name: str, epoch: int, cfg: TrainConfig) -> None:
    """Stop a fit whose mean training loss grew past ``train.max_loss_growth`` times its first batch's loss."""
    if cfg.max_loss_growth is None or initial is None or initial <= 0 or not math.isfinite(train_loss):
        return
    if train_loss > cfg.max_loss_growth * initial:
        raise TrainingDivergedError(
            f"fit {name!r} diverged at epoch {epoch}: the mean training loss {train_loss:.4g} is over "
            f"{cfg.max_loss_growth:g} times the loss before training ({initial:.4g}); "
            f"{_DIVERGENCE_CAUSES.format(lr=cfg.lr)} (train.max_loss_growth=null turns this check off)"
        )


def _clone_module_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _monitored(record: Mapping[str, Any], key: str, name: str) -> float | None:
    if key not in record:
        if key.startswith("val_") and not any(k.startswith("val_") for k in record):
            return None  # no validation split: nothing to monitor, nothing to stop on
        known = ", ".join(k for k in record if k not in ("fit", "epoch"))
        raise ConfigError(f"train.early_stopping.monitor={key!r} is not measured by fit {name!r} (measured: {known})")
    value = float(record[key])
    return value if math.isfinite(value) else None


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class _Progress:
    """A rich progress bar for epochs and batches, shown only on an interactive terminal."""

    def __init__(self, enabled: bool, name: str, epochs: int, batches: int) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                transient=True,
            )
            self._epochs = self._bar.add_task(f"{name} epochs", total=epochs, info="")
            self._batches = self._bar.add_task("batches", total=batches, info="")

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def advance_epochs(self, n: int) -> None:
        if self._bar is not None and n > 0:
            self._bar.advance(self._epochs, n)

    def advance_batch(self, running_loss: float) -> None:
        if self._bar is not None:
            self._bar.update(self._batches, advance=1, info=f"loss {running_loss:.4f}")

    def end_epoch(self, record: Mapping[str, Any]) -> None:
        if self._bar is not None:
            shown = "  ".join(
                f"{k} {v:.4f}" for k, v in record.items() if isinstance(v, float) and k not in ("lr", "time_s")
            )
            self._bar.update(self._epochs, advance=1, info=shown)
            self._bar.reset(self._batches)


__all__ = [
    "Checkpoint",
    "Engine",
    "FitResult",
    "Metric",
    "resolve_device",
    "to_device",
]
