"""Task families: what each application of the course declares, in one place.

A family is a package ``dlpipe.tasks.<name>`` with five modules that the
family-agnostic stages look up:

- ``data``: what its split holds: ``split(settings) -> ({split: arrays}, report)``
  (the split stage), ``augment(train, params)`` moving the targets with the pixels
  and ``draw(arrays)`` showing them (the augment stage);
- ``batches``: how batches are made: ``dataset(arrays, stats)`` (normalised inputs and
  targets) and ``names(arrays)`` (classes, or points);
- ``task``: its LightningModule (loss, per-epoch validation metrics);
- ``evaluate``: its evaluator (``run(params, name)``: metrics, plots, diagnosis);
- ``predict``: how ``dlpipe predict`` shows one result.

This module imports no torch: the config, the leaderboard and the command line
read the specs below without paying for it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    # primary metric -> (the validation metric train monitors, "max" or "min")
    monitors: dict[str, tuple[str, str]]
    # metrics.json keys shown in the family's leaderboard table, after rank/model/architecture
    columns: tuple[str, ...]
    # the exported model's output, one tensor
    output: str
    # keys of the train section only this family's task reads: setting one in another family's
    # model is an error that names it
    exclusive_train_keys: frozenset[str] = frozenset()
    # the network's outputs, L2-normalised, are an embedding (models/embedder.py)
    embeds: bool = False

    def dvc_stage(self, stage: str, model: str) -> str:
        """The name dvc.yaml gives a model's stage: ``train@NAME`` for classification,
        ``train_localize@NAME`` for the others."""
        return f"{stage}@{model}" if self.name == "classify" else f"{stage}_{self.name}@{model}"

    def part(self, module: str) -> ModuleType:
        """One of the family's modules (data, task, evaluate, predict), imported on first use."""
        return importlib.import_module(f"dlpipe.tasks.{self.name}.{module}")


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="classify",
            title="Classification",
            monitors={
                "accuracy": ("val_acc", "max"),
                "weighted_error": ("val_weighted_error", "min"),
                "cost_error": ("val_cost_error", "min"),
            },
            columns=("accuracy", "weighted_error", "cost_error"),
            output="logits",
            exclusive_train_keys=frozenset(
                {"label_smoothing", "mixup_alpha", "manifold_mixup_alpha", "aux_loss_weight"}
            ),
        ),
        Family(
            name="localize",
            title="Classification with localisation",
            monitors={
                "mean_iou": ("val_mean_iou", "max"),
                "class_accuracy": ("val_class_acc", "max"),
                "iou50": ("val_iou50", "max"),
            },
            columns=("object_accuracy", "class_accuracy", "mean_iou", "iou50"),
            output="outputs",
        ),
        Family(
            name="landmarks",
            title="Landmarks",
            monitors={"nme": ("val_nme", "min"), "pck": ("val_pck", "max")},
            columns=("nme", "pck"),
            output="points",
        ),
        Family(
            name="detect",
            title="Object detection",
            monitors={"map50": ("val_map50", "max")},
            columns=("map50", "map", "mar100"),
            # before the threshold and NMS: a grid (yolo), windows and logits (sliding_window),
            # every proposal's box for every class (faster_rcnn)
            output="raw",
        ),
        Family(
            name="verify",
            title="Verification and one-shot recognition",
            monitors={"way20": ("val_way20", "max"), "auc": ("val_auc", "max")},
            columns=("way20", "way5", "auc", "tar_far_1e-3", "acc_val_threshold", "threshold_gap"),
            output="embedding",
            embeds=True,
        ),
        Family(
            name="clips",
            title="3-D convolution: clips and volumes",
            monitors={"accuracy": ("val_acc", "max")},
            columns=("accuracy",),
            output="logits",
        ),
    )
}


def family(name: str) -> Family:
    return FAMILIES[name]
