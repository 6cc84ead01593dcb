"""train.steps, checked through train@NAME: the same steps on more training images (augment.copies)
become fewer epochs, rounded up to whole ones, as the README says; a model's own steps replace
the section's epochs."""

from __future__ import annotations

import json
import math

import pytest

from dlpipe import disk, paths
from dlpipe.config import load_params
from dlpipe.stages import augment, split, train

STEPS, BATCH = 30, 64


@pytest.mark.parametrize(
    ("copies", "where"),
    # the shared section's steps, and a model's own replacing the section's epochs
    [(0, "train"), (2, "train"), (2, "model")],
)
def test_steps_become_the_epochs_the_training_set_needs(project, copies, where):
    length = {"epochs": None, "steps": STEPS} if where == "train" else {"epochs": 5, "steps": None}
    own = {"train": {"steps": STEPS}} if where == "model" else {}
    root = project(
        {
            "augment": {"copies": copies},
            "train": {**length, "batch_size": BATCH},
            "models": {"logreg": own},
        }
    )
    params = load_params()
    split.run(params)
    augment.run(params)
    train.run(params, "logreg")

    originals = sum(disk.read_json(paths.split_report("classify"))["counts"]["train"].values())
    batches = math.ceil(originals * (1 + copies) / BATCH)
    summary = json.loads((root / "reports/models/logreg/train.json").read_text())
    assert summary["epochs"] == math.ceil(STEPS / batches)
    assert summary["steps"] == summary["epochs"] * batches >= STEPS
