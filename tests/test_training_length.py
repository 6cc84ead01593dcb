"""train.steps, checked through train@NAME: the same steps on more training images (augment.copies)
become fewer epochs, rounded up to whole ones, as the README says."""

from __future__ import annotations

import json
import math

import pytest

from dlpipe import disk, paths
from dlpipe.config import load_params
from dlpipe.stages import augment, split, train

STEPS, BATCH = 30, 64


@pytest.mark.parametrize("copies", [0, 2])
def test_steps_become_the_epochs_the_training_set_needs(project, copies):
    root = project(
        {
            "augment": {"copies": copies},
            "train": {"epochs": None, "steps": STEPS, "batch_size": BATCH},
            "models": {"logreg": {}},
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
