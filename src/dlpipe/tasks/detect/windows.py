"""The sliding-window detector's labels, loss and decoding (models/sliding_window.py).

A window is labelled with the class of the object it overlaps most when that IoU is at
least POSITIVE_IOU, background when it overlaps every object by less than NEGATIVE_IOU,
and not at all in between (R-CNN's rule for its window classifier). The classifier learns
from crops, as the notes train it: each training step cuts, from each scene of the batch,
CROPS_PER_SCENE labelled windows (objects first, up to half of them; background for the
rest) with RoI Align, resized to the classifier's input, and scores the cross-entropy on
them. Validation scores every labelled window of the whole scenes, in one convolutional
pass. A detection is a window, scored by its best digit's softmax probability.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.ops import box_convert, roi_align

from dlpipe.models.sliding_window import SlidingWindowDetector
from dlpipe.tasks.detect.boxes import batched_iou

POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.3
CROPS_PER_SCENE = 16
UNLABELLED = -1


def window_labels(windows: Tensor, targets: Tensor, classes: int) -> Tensor:
    """int64 N×P: each window's class for the N scenes' targets (N×K×5 rows of class, cx, cy,
    w, h; class −1 pads), ``classes`` for background, UNLABELLED in between."""
    truths = box_convert(targets[..., 1:5], "cxcywh", "xyxy")
    overlaps = batched_iou(windows.expand(len(targets), -1, -1), truths)
    overlaps = F.pad(overlaps.masked_fill(targets[:, None, :, 0] < 0, 0.0), (0, 1))  # K may be 0
    best, which = overlaps.max(dim=2)
    labels = torch.full_like(best, UNLABELLED, dtype=torch.long)
    labels[best < NEGATIVE_IOU] = classes
    positive = best >= POSITIVE_IOU
    labels[positive] = targets[..., 0].long().gather(1, which.clamp(max=targets.shape[1] - 1))[positive]
    return labels


def _sample(labels: Tensor, classes: int) -> tuple[Tensor, Tensor]:
    """(scene, window) indices of the crops of a step: objects first, background after."""
    budget = CROPS_PER_SCENE * len(labels)
    objects = torch.nonzero((labels >= 0) & (labels < classes))
    background = torch.nonzero(labels == classes)
    objects = objects[torch.randperm(len(objects), device=labels.device)[: budget // 2]]
    background = background[torch.randperm(len(background), device=labels.device)[: budget - len(objects)]]
    chosen = torch.cat([objects, background])
    return chosen[:, 0], chosen[:, 1]


def crop_loss(model: SlidingWindowDetector, x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """The training loss on crops of the scenes ``x``, and the crops' logits."""
    labels = window_labels(model.windows, targets, model.classes)
    scene, window = _sample(labels, model.classes)
    boxes = torch.cat([scene[:, None].to(x.dtype), model.windows[window].to(x.dtype) * x.shape[-1]], dim=1)
    crops = roi_align(x, boxes, output_size=model.window, sampling_ratio=2, aligned=True)
    logits = model.classifier(crops)
    return F.cross_entropy(logits, labels[scene, window]), logits


def loss(outputs: Tensor, targets: Tensor, classes: int) -> Tensor:
    """Cross-entropy over every labelled window of the whole scenes (``outputs``: the model's)."""
    labels = window_labels(outputs[0, :, :4], targets, classes)
    return F.cross_entropy(outputs[..., 4:].flatten(0, 1), labels.flatten(), ignore_index=UNLABELLED)


def decode(outputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every window's box (N×P×4 corners), best digit probability and that digit (N×P)."""
    probabilities = torch.softmax(outputs[..., 4:], dim=-1)[..., :-1]
    scores, labels = probabilities.max(dim=-1)
    return outputs[..., :4], scores, labels
