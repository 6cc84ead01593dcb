"""One trial: train the sampled settings for ``tune.epochs`` epochs, report the validation
metric of ``evaluate.primary_metric`` to the pruner after every epoch, and record the trial
as a child run in MLflow. The test split is never used."""

from __future__ import annotations

import tempfile
from pathlib import Path

import lightning.pytorch as pl
import optuna
import torch
from lightning.pytorch.loggers import MLFlowLogger
from optuna_integration import PyTorchLightningPruningCallback

from dlpipe import tracking
from dlpipe.config import Params, TrackingParams
from dlpipe.training.trainer import build_task, build_trainer, fit
from dlpipe.tuning import space

RUN_ID_ATTR = "mlflow_run_id"


class BestValue(pl.Callback):
    """The best value ``monitor`` reached at the end of any validation."""

    def __init__(self, monitor: str, mode: str):
        self.monitor, self.pick = monitor, max if mode == "max" else min
        self.best = float("-inf") if mode == "max" else float("inf")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.best = self.pick(self.best, float(value))


def tuning_tracking(params: Params) -> TrackingParams:
    """Trials go to their own experiment, so the leaderboard's experiment lists one run per model."""
    return params.tracking.model_copy(update={"experiment": f"{params.tracking.experiment}-tune"})


class Objective:
    def __init__(self, params: Params, name: str, study_name: str, parent_run_id: str):
        """``name``: the model tuned, unless ``tune.space`` samples ``model`` among several."""
        self.params, self.name, self.study_name, self.parent_run_id = params, name, study_name, parent_run_id
        self.tracking = tuning_tracking(params)

    def __call__(self, trial: optuna.Trial) -> float:
        sampled = space.suggest(trial, self.params.tune.space)
        name, train, options, params = space.trial_settings(
            self.params, self.name, sampled, self.params.tune.epochs
        )
        run_id = tracking.create_run(
            self.tracking,
            run_name=f"trial-{trial.number}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "optuna.study": self.study_name,
                "optuna.trial": str(trial.number),
                "architecture": self.params.arch_of(name),
                "model": name,
                "seed": str(train.seed),
                "torch_threads": str(torch.get_num_threads()),
                **tracking.source_tags(f"dlpipe tune {self.name}"),
            },
            logged={"tuned": sampled, "train": train.model_dump(), "options": options},
        )
        trial.set_user_attr(RUN_ID_ATTR, run_id)
        mlflow_client = tracking.client(self.tracking)
        try:
            value = self._train(trial, params, name, train, options, run_id)
        except optuna.TrialPruned:
            mlflow_client.set_tag(run_id, "optuna.state", "PRUNED")
            mlflow_client.set_terminated(run_id, "FINISHED")  # pruned is a result, not a failure
            raise
        except BaseException:
            mlflow_client.set_tag(run_id, "optuna.state", "FAIL")
            mlflow_client.set_terminated(run_id, "FAILED")
            raise
        mlflow_client.set_tag(run_id, "optuna.state", "COMPLETE")
        monitor, _ = self.params.monitor(self.params.family_of(name))
        tracking.log_metrics(self.tracking, run_id, {f"best_{monitor}": value})
        mlflow_client.set_terminated(run_id, "FINISHED")
        return value

    def _train(
        self, trial: optuna.Trial, params: Params, name: str, train, options: dict, run_id: str
    ) -> float:
        data, task = build_task(params, name, options, train)
        monitor, mode = self.params.monitor(self.params.family_of(name))
        best = BestValue(monitor, mode)
        logger = MLFlowLogger(
            experiment_name=self.tracking.experiment,
            tracking_uri=tracking.tracking_uri(self.tracking),
            run_id=run_id,
        )
        with tempfile.TemporaryDirectory() as scratch:
            trainer = build_trainer(
                train,
                logger=logger,
                callbacks=[best, PyTorchLightningPruningCallback(trial, monitor=monitor)],
                train_examples=len(data.datasets["train"]),
                root_dir=Path(scratch),
                primary_monitor=monitor,
            )
            fit(trainer, task, datamodule=data)
        return best.best
