"""The Lightning Trainer as params.yaml's ``train`` section describes it."""

from __future__ import annotations

import logging
import re
import signal
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.strategies import DDPStrategy, Strategy
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dlpipe.config import TrainParams
from dlpipe.errors import ConfigError, PeerError
from dlpipe.tasks import FAMILIES

# Every metric train.early_stopping.monitor may name, and the direction in which it improves.
MONITOR_MODES = {
    "val_loss": "min",
    **{metric: mode for family in FAMILIES.values() for metric, mode in family.monitors.values()},
}


def silence_known_noise() -> None:
    """Lightning's tips and device banner, and warnings that do not apply here.

    The data lives in memory (no loader workers needed), the pytree
    deprecation comes from inside Lightning itself, and ClassificationTask's
    batch hook (channels-last) is meant to serve with any DataModule.
    """
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*overridden `on_after_batch_transfer` in `LightningModule`")
    # Task sums each epoch's batches over every process itself before it logs (Task._log_epoch).
    warnings.filterwarnings("ignore", message=r".*sync_dist=True.*when logging on epoch level")


def _strategy(params: TrainParams) -> Strategy | str:
    """ddp with ``peer_timeout``: a lost or stopped process ends the job within it, not after
    torch's default 30 minutes of waiting in a collective."""
    if params.strategy == "ddp":
        return DDPStrategy(timeout=timedelta(seconds=params.peer_timeout))
    return params.strategy


def build_trainer(
    params: TrainParams,
    *,
    logger: Logger | bool,
    callbacks: list[pl.Callback],
    train_examples: int,
    root_dir: Path,
    primary_monitor: str = "val_acc",
) -> pl.Trainer:
    """Accelerator, devices, strategy, precision, gradient clipping and early stopping from
    params; deterministic and quiet.

    Each process of a ddp job trains on its share of the ``train_examples`` (ArrayDataModule), so
    ``train.steps`` become whole epochs from the batches of one share.

    Early stopping's ``monitor: primary`` watches ``primary_monitor`` (the validation metric
    of evaluate.primary_metric); each metric stops in its own direction (MONITOR_MODES).
    """
    silence_known_noise()
    stopping = params.early_stopping
    if stopping.patience:
        monitor = primary_monitor if stopping.monitor == "primary" else stopping.monitor
        if monitor not in MONITOR_MODES:
            raise ConfigError(
                f"train.early_stopping.monitor {monitor!r} has no known direction "
                f"(known: {', '.join(MONITOR_MODES)}, primary)"
            )
        callbacks = [
            *callbacks,
            EarlyStopping(
                monitor,
                min_delta=stopping.min_delta,
                patience=stopping.patience,
                mode=MONITOR_MODES[monitor],
            ),
        ]
    trainer = pl.Trainer(
        max_epochs=1,  # set below, once the number of processes is known
        accelerator=params.accelerator,
        devices=params.devices,
        num_nodes=params.num_nodes,
        strategy=_strategy(params),
        use_distributed_sampler=False,  # ArrayDataModule shards the data itself
        precision=params.precision,
        logger=logger,
        callbacks=callbacks,
        deterministic=True,
        gradient_clip_val=params.gradient_clip,
        gradient_clip_algorithm="norm",
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=sys.stdout.isatty(),
        # Lightning adds a checkpoint callback of its own unless told not to.
        enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
        default_root_dir=root_dir,
    )
    share = -(-train_examples // trainer.world_size)
    batches_per_epoch = -(-share // params.batch_size)
    trainer.fit_loop.max_epochs = params.epochs_for(batches_per_epoch)
    trainer.log_every_n_steps = max(1, min(50, batches_per_epoch))
    return trainer


def fit(trainer: pl.Trainer, task: pl.LightningModule, **kwargs) -> None:
    """``trainer.fit``, but a SIGTERM ends the process with status 143 instead of Lightning's 0,
    and a lost ddp peer is one line (PeerError) instead of each process's traceback.

    Lightning stops at the next step on SIGTERM and exits with status 0, which suits a
    cluster that requeues the job; DVC (or any caller) would take it for success. Whatever
    the caller checkpointed stays (train@NAME resumes from its last finished epoch).
    """
    try:
        trainer.fit(task, **kwargs)
    except SIGTERMException:
        print("stopped by SIGTERM", file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM) from None
    except Exception as exc:
        lost = _peer_failure(exc) if trainer.world_size > 1 else None
        if lost is None:
            raise
        reason = str(lost).strip().splitlines()[0] if str(lost).strip() else type(lost).__name__
        raise PeerError(
            f"train: process {trainer.global_rank} of {trainer.world_size} lost a peer of its ddp job, "
            f"which ended or was silent past train.peer_timeout: {reason}"
        ) from None


# gloo's timeout of a silent peer surfaced once as "Application timeout caused pair closure",
# from a broadcast of buffers, where it usually says "Timed out waiting ... [.../gloo/...]"
PEER_FAILURE = r"gloo|nccl|timeout caused pair closure"


def _peer_failure(exc: BaseException) -> BaseException | None:
    """The first exception along ``exc``'s chain (what it arose from or while handling) that is
    torch.distributed's (DistError: backend, store, network), names gloo or NCCL, or is gloo's
    own timeout of a silent peer (a RuntimeError that names neither), if any.

    Lightning's clean-up after a failed collective may raise again; the first failure says what
    happened to the peer."""
    from torch.distributed import DistError

    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    for link in reversed(chain):  # the first to happen comes last
        if isinstance(link, DistError) or re.search(PEER_FAILURE, f"{type(link)} {link}", re.IGNORECASE):
            return link
    return None


def build_task(params, name: str, options: dict | None = None, train: TrainParams | None = None):
    """The one set-up of a training run of model ``name``: seed, the family's data module, and
    its task sized for that data, started from ``train.init_from`` and frozen as asked.

    ``options`` and ``train`` replace the model's own (a tuning trial's sampled settings).
    Returns (data module, task).
    """
    from dlpipe.data.datamodule import ArrayDataModule
    from dlpipe.models.registry import check_options
    from dlpipe.training import weights

    family = params.family_of(name)
    train = train or params.train_for(name)
    options = params.model_settings(name).options if options is None else options
    arch = params.arch_of(name)
    check_options(arch, options, f"{params.model_key(name)}.options")
    pl.seed_everything(train.seed, workers=True, verbose=False)
    batches = FAMILIES[family].part("batches")
    batching = (
        batches.train_batching(params, train, params.model_key(name))
        if hasattr(batches, "train_batching")
        else None
    )
    data = ArrayDataModule.for_family(family, train.batch_size, train.seed, batching)
    try:
        task = FAMILIES[family].part("task").TASK.build(params, name, data, options, train)
    except (ValueError, TypeError) as exc:  # a builder refusing an option's value
        raise ConfigError(f"{params.model_key(name)}.options: {exc}") from None
    if train.init_from:
        fresh = weights.load_matching(task.model, weights.initial_state(train.init_from))
        print(f"train@{name}: started from {train.init_from}; newly initialised: {fresh or 'nothing'}")
    task.frozen_blocks = weights.freeze(task.model, train.freeze)
    if task.frozen_blocks:
        print(f"train@{name}: frozen blocks {', '.join(task.frozen_blocks)}")
    return data, task
