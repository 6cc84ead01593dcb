"""The two-stage detector's losses, decoding and proposal recall (models/faster_rcnn.py).

Its losses are torchvision's: the proposal network's objectness and box terms on sampled
anchors, and the second stage's class and box terms on sampled proposals, added. They are
computed from the images and the true boxes, not from the network's detections, so the
validation loss runs both stages in training mode with batch norm on its running
statistics (which stay put) and the sampling seeded: training's terms, on the validation
scenes, with no side effect on the network or the random state.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou

from dlpipe.models.faster_rcnn import TwoStageDetector
from dlpipe.tasks.detect.scores import true_boxes

PROPOSALS_SCORED = 100  # recall@100, as the R-CNN papers report it
PROPOSAL_IOU = 0.5
VALIDATION_SEED = 0


def torchvision_targets(targets: Tensor, image_size: int) -> list[dict[str, Tensor]]:
    """N×K×5 target rows (class, cx, cy, w, h in shares; class −1 pads) as torchvision's
    per-image pixel corners and labels counted from 1 (0 is its background)."""
    found = []
    for objects in targets:
        boxes, labels = true_boxes(objects)
        found.append({"boxes": boxes * image_size, "labels": labels + 1})
    return found


def loss(model: TwoStageDetector, x: Tensor, targets: Tensor) -> Tensor:
    """Both stages' losses on a training batch."""
    return sum(model.losses(x, torchvision_targets(targets, model.image_size)).values())


def held_loss(model: TwoStageDetector, x: Tensor, targets: Tensor) -> Tensor:
    """The training loss of a validation batch, leaving the network and the random state as
    they were."""
    was_training = model.training
    model.train()
    model.rcnn.backbone.eval()  # batch norm on its running statistics, which stay put
    try:
        accelerator = None if x.device.type == "cpu" else x.device.type  # CUDA, MPS...
        with torch.random.fork_rng(devices=[x.device] if accelerator else [], device_type=accelerator):
            torch.manual_seed(VALIDATION_SEED)
            return loss(model, x, targets)
    finally:
        model.train(was_training)


def decode(outputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The network's rows as boxes (N×P×4 corners), scores and classes (N×P); a padding row
    scores −1."""
    return outputs[..., :4], outputs[..., 4], outputs[..., 5].long()


def proposal_recall(proposals: list[Tensor], targets: Tensor) -> float:
    """The share of true boxes that one of their image's ``proposals`` (the proposal network's
    PROPOSALS_SCORED best, recorded by ``TwoStageDetector.recording_proposals``) overlaps by at
    least PROPOSAL_IOU. The second stage sees the network's own ``proposals`` best, fewer by
    default: this is the proposal network's quality, not the detector's ceiling."""
    found = total = 0
    for boxes, objects in zip(proposals, targets, strict=True):
        truths, _ = true_boxes(objects)
        total += len(truths)
        if len(truths) and len(boxes):
            found += int((box_iou(truths, boxes).max(dim=1).values >= PROPOSAL_IOU).sum())
    return found / max(total, 1)
