"""Classification data: ``{x, y, classes}`` per split, split stratified by class.

x is uint8 N×H×W×C, y the class index of each image, classes the class names.
"""

from __future__ import annotations

import numpy as np

from dlpipe.config import DataParams, Params
from dlpipe.data.sources import load_source
from dlpipe.data.split import class_counts, hold_out_train_dev, stratified_split


def split(settings: DataParams) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """The images of ``data.source`` split 6:2:2 (``data.ratios``), stratified and seeded; with
    ``data.train_dev`` > 0 also a train-dev split held out of train."""
    dataset = load_source(settings)
    split = stratified_split(dataset.labels, settings.ratios, settings.seed)
    split = hold_out_train_dev(split, dataset.labels, settings.train_dev, settings.seed)
    classes = np.array(dataset.class_names)
    arrays = {
        name: {"x": dataset.images[idx], "y": dataset.labels[idx], "classes": classes}
        for name, idx in split.indices.items()
    }
    report = {
        "source": settings.source,
        "counts": {
            name: class_counts(dataset.labels[idx], dataset.class_names)
            for name, idx in split.indices.items()
        },
        "skipped_images": len(dataset.skipped),
        "skipped_files": dataset.skipped,
    }
    return arrays, report


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``augment.copies`` augmented copies of them."""
    settings = params.augment
    from dlpipe.data.augment import augment_copies

    copies = augment_copies(train["x"], settings)
    return {
        "x": np.concatenate([train["x"], copies]),
        "y": np.tile(train["y"], settings.copies + 1),
        "classes": train["classes"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The images as the augment preview shows them: a class needs no drawing."""
    return arrays["x"]
