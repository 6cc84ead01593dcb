"""Which epoch train@NAME keeps: the best on the family's primary metric and, of epochs tied on
it, the latest (Lightning's ModelCheckpoint keeps the first), as train.json's best_epoch says."""

from __future__ import annotations

import csv
import json

from dlpipe.config import load_params
from dlpipe.stages import augment, split, train

EPOCHS = 4


def _history(root) -> list[dict[str, str]]:
    with (root / "reports/models/logreg/history.csv").open() as file:
        return list(csv.DictReader(file))


def test_of_epochs_tied_on_the_primary_metric_train_keeps_the_latest(project):
    # An lr this small leaves the predictions as they were: every epoch ties on val accuracy.
    root = project({"train": {"epochs": EPOCHS, "lr": 1e-12}, "models": {"logreg": {}}})
    params = load_params()
    split.run(params)
    augment.run(params)
    train.run(params, "logreg")

    assert len({row["val_acc"] for row in _history(root)}) == 1  # the tie this test is about
    summary = json.loads((root / "reports/models/logreg/train.json").read_text())
    assert summary["best_epoch"] == EPOCHS


def test_an_epoch_below_the_best_does_not_replace_it(project):
    root = project({"train": {"epochs": EPOCHS}, "models": {"logreg": {}}})
    params = load_params()
    split.run(params)
    augment.run(params)
    train.run(params, "logreg")

    accuracies = [float(row["val_acc"]) for row in _history(root)]
    summary = json.loads((root / "reports/models/logreg/train.json").read_text())
    best = max(accuracies)
    latest_best = max(epoch for epoch, value in enumerate(accuracies, 1) if value == best)
    assert summary["best_epoch"] == latest_best
    assert summary["best_val_acc"] == best
