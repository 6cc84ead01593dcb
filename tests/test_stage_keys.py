"""Keys that a stage once ignored or might, each checked through the stage that reads it.

One tiny logistic regression is trained once (three epochs, early stopping on the
primary metric, weighted error), then evaluated with two diagnosis tolerances and
on part of the training split.
"""

from __future__ import annotations

import contextlib
import json

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import EarlyStopping

from conftest import shipped, write_params
from dlpipe.config import EarlyStoppingParams, load_params
from dlpipe.errors import ConfigError
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.stages import augment, evaluate, split, train
from dlpipe.training.trainer import build_trainer

SETTINGS = {
    "models": {"logreg": {"train": {"epochs": 3, "lr": 0.01, "label_smoothing": 0.0}}},
    "train": {"early_stopping": {"monitor": "primary", "patience": 1, "min_delta": 0.0}},
    "evaluate": {"primary_metric": "weighted_error"},
}


class _Recorder(pl.Callback):
    """val_weighted_error after every validation, as the stopping rule saw it."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.values.append(float(trainer.callback_metrics["val_weighted_error"]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Split, augment and train logreg; keep the trainer train@logreg built and what it saw."""
    root = tmp_path_factory.mktemp("stage_keys")
    write_params(root, SETTINGS)
    built: dict = {"root": root, "recorder": _Recorder()}
    original = train.build_trainer

    def spy(*args, callbacks, **kwargs):
        built["trainer"] = original(*args, callbacks=[*callbacks, built["recorder"]], **kwargs)
        return built["trainer"]

    with contextlib.chdir(root), pytest.MonkeyPatch.context() as patch:
        patch.setenv("CUDA_VISIBLE_DEVICES", "")
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setattr(train, "build_trainer", spy)
        params = load_params()
        split.run(params)
        augment.run(params)
        train.run(params, "logreg")
    return built


@pytest.mark.parametrize(
    ("monitor", "primary", "expected"),
    [
        ("val_loss", "val_acc", ("val_loss", "min")),
        ("val_acc", "val_weighted_error", ("val_acc", "max")),
        ("val_weighted_error", "val_acc", ("val_weighted_error", "min")),
        ("val_cost_error", "val_acc", ("val_cost_error", "min")),
        ("primary", "val_acc", ("val_acc", "max")),
        ("primary", "val_cost_error", ("val_cost_error", "min")),
    ],
)
def test_each_early_stopping_monitor_stops_in_its_own_direction(monitor, primary, expected, tmp_path):
    settings = shipped(
        "train", accelerator="cpu", devices=1, early_stopping={"monitor": monitor, "patience": 2}
    )
    trainer = build_trainer(
        settings, logger=False, callbacks=[], train_examples=1, root_dir=tmp_path, primary_monitor=primary
    )
    (stopping,) = [cb for cb in trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert (stopping.monitor, stopping.mode) == expected


def test_an_early_stopping_monitor_of_unknown_direction_is_refused_naming_the_key(tmp_path):
    stopping = EarlyStoppingParams.model_construct(monitor="val_f1", patience=1, min_delta=0.0)
    settings = shipped("train", accelerator="cpu", devices=1).model_copy(update={"early_stopping": stopping})
    message = r"^train.early_stopping.monitor 'val_f1' has no known direction"
    with pytest.raises(ConfigError, match=message):
        build_trainer(settings, logger=False, callbacks=[], train_examples=1, root_dir=tmp_path)


def _expected_epochs(values: list[float], patience: int, max_epochs: int) -> int:
    """Epochs run when a metric to minimise must improve at least every ``patience`` epochs."""
    best, wait = float("inf"), 0
    for epoch, value in enumerate(values[:max_epochs], start=1):
        if value < best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return max_epochs


def test_early_stopping_on_primary_watches_weighted_error_downwards(trained: dict):
    (stopping,) = [cb for cb in trained["trainer"].callbacks if isinstance(cb, EarlyStopping)]
    assert (stopping.monitor, stopping.mode) == ("val_weighted_error", "min")
    seen = trained["recorder"].values
    epochs = len(seen)
    assert epochs == _expected_epochs(seen, patience=1, max_epochs=3)
    assert float(stopping.best_score) == pytest.approx(min(seen))
    summary = json.loads((trained["root"] / "reports/models/logreg/train.json").read_text())
    assert summary["epochs"] == epochs
    assert summary["best_val_weighted_error"] == pytest.approx(min(seen), abs=1e-6)


@pytest.mark.parametrize(("tolerance", "dominant"), [(0.0, {"avoidable bias", "variance"}), (1.0, {"none"})])
def test_diagnosis_tolerance_decides_whether_a_gap_dominates(trained: dict, tolerance, dominant, monkeypatch):
    root = trained["root"]
    monkeypatch.chdir(root)
    params = load_params()
    params = params.model_copy(
        update={"evaluate": params.evaluate.model_copy(update={"diagnosis_tolerance": tolerance})}
    )
    evaluate.run(params, "logreg")
    diagnosis = json.loads((root / "reports/models/logreg/diagnosis.json").read_text())
    assert max(diagnosis["gaps"].values()) > 0  # a gap exists: only the tolerance can hide it
    assert diagnosis["dominant"] in dominant
    markdown = (root / "reports/models/logreg/diagnosis.md").read_text()
    assert ("every gap is below evaluate.diagnosis_tolerance" in markdown) == (dominant == {"none"})


def test_diagnosis_train_examples_sets_the_training_images_classification_scores(trained: dict, monkeypatch):
    root = trained["root"]
    monkeypatch.chdir(root)
    params = load_params()
    sampled = params.model_copy(
        update={"evaluate": params.evaluate.model_copy(update={"diagnosis_train_examples": 5})}
    )
    evaluate.run(sampled, "logreg")
    errors = json.loads((root / "reports/models/logreg/diagnosis.json").read_text())["errors"]
    evaluate.run(params, "logreg")
    whole = json.loads((root / "reports/models/logreg/diagnosis.json").read_text())["errors"]

    model, _ = load_model(root / "models/logreg/model.pt")
    x, y, _ = split_inputs("classify", "train")
    wrong = predict_outputs(model, x).argmax(axis=1) != y  # weighted error with every weight 1
    assert errors["train"] == pytest.approx(wrong[:5].mean(), abs=1e-6)  # the report rounds to 6 places
    assert whole["train"] == pytest.approx(wrong.mean(), abs=1e-6)
    assert errors["dev"] == whole["dev"]
