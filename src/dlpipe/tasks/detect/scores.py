"""mAP@0.5 from sums, for the training loop; COCO mAP for the evaluation.

Training picks its checkpoint on the validation split's mAP@0.5, and the trainer's
metrics are sums over batches (added over the processes of a ddp job). So each batch's
detections are matched to the true boxes (per image and class, in descending score: a
detection is a true positive when its IoU with a not yet matched true box of its class is
at least 0.5) and counted in BINS score bins, true and false positives per class, with
the number of true boxes. From the summed counts, per class, with TP≥k and FP≥k the
positives scored in bin k or above:

    precision_k = TP≥k / (TP≥k + FP≥k),   recall_k = TP≥k / truths
    AP = Σ_k (recall_k − recall_(k+1)) · max_(j ≤ k) precision_j   (all-point interpolation:
         the recall each bin adds, at the best precision of that recall or more)

and mAP@0.5 is the mean over the classes that have true boxes. Detections that share a
score bin count as tied; the evaluation's numbers come from COCO's own
evaluation (tasks/detect/coco.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_iou

BINS = 1000
IOU = 0.5


def true_positives(
    boxes: Tensor, scores: Tensor, labels: Tensor, truth_boxes: Tensor, truth_labels: Tensor
) -> Tensor:
    """Which detections of one image (corners) match a true box at IoU ≥ 0.5, greedily by score."""
    hits = torch.zeros(len(boxes), dtype=torch.bool)
    if not len(boxes) or not len(truth_boxes):
        return hits
    overlaps = box_iou(boxes, truth_boxes)
    overlaps[labels[:, None] != truth_labels[None, :]] = -1.0
    taken = torch.zeros(len(truth_boxes), dtype=torch.bool)
    for i in torch.argsort(scores, descending=True, stable=True).tolist():
        candidates = overlaps[i].masked_fill(taken, -1.0)
        best = int(candidates.argmax())
        if candidates[best] >= IOU:
            hits[i], taken[best] = True, True
    return hits


def true_boxes(objects: Tensor) -> tuple[Tensor, Tensor]:
    """One image's target rows (class, cx, cy, w, h; class −1 pads) as corners and classes."""
    real = objects[objects[:, 0] >= 0]
    cx, cy, w, h = real[:, 1:].T
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1), real[:, 0].long()


def counted(found: list[tuple[Tensor, Tensor, Tensor]], targets: Tensor, classes: int) -> dict[str, Tensor]:
    """The batch's sums: tp and fp (classes × BINS) and truths (classes) as float tensors."""
    tp, fp = torch.zeros(classes, BINS), torch.zeros(classes, BINS)
    truths = torch.zeros(classes)
    for (boxes, scores, labels), objects in zip(found, targets.cpu(), strict=True):
        truth_boxes, truth_labels = true_boxes(objects)
        truths += torch.bincount(truth_labels, minlength=classes).float()
        boxes, scores, labels = boxes.cpu(), scores.cpu(), labels.cpu()
        hits = true_positives(boxes, scores, labels, truth_boxes, truth_labels)
        bins = (scores * BINS).long().clamp(0, BINS - 1)
        tp.index_put_((labels[hits], bins[hits]), torch.ones(int(hits.sum())), accumulate=True)
        fp.index_put_((labels[~hits], bins[~hits]), torch.ones(int((~hits).sum())), accumulate=True)
    device = targets.device
    return {"tp": tp.to(device), "fp": fp.to(device), "truths": truths.to(device)}


def mean_average_precision(tp: Tensor, fp: Tensor, truths: Tensor) -> Tensor:
    """mAP@0.5 from the summed counts (see the module's docstring)."""
    tp_above = tp.flip(-1).cumsum(-1)  # bin BINS-1 first: the highest scores
    fp_above = fp.flip(-1).cumsum(-1)
    precision = tp_above / (tp_above + fp_above).clamp(min=1)
    recall = tp_above / truths[:, None].clamp(min=1)
    envelope = precision.flip(-1).cummax(-1).values.flip(-1)  # best precision at this recall or more
    gained = torch.diff(recall, dim=-1, prepend=torch.zeros_like(recall[:, :1]))
    ap = (gained * envelope).sum(-1)
    present = truths > 0
    return ap[present].mean() if present.any() else tp.new_tensor(0.0)


def confusion_pairs(
    found: list[tuple[Tensor, Tensor, Tensor]], targets: Tensor, classes: int, score_threshold: float
) -> tuple[Tensor, Tensor]:
    """(actual, predicted) classes of the detections scoring ``score_threshold`` or more, with
    ``classes`` standing for background: per image, detections in descending score take the
    not yet matched true box of any class they overlap most at IoU ≥ 0.5 (actual: its class);
    the others are (background, their class); a true box left unmatched is (its class,
    background)."""
    actual, predicted = [], []
    for (boxes, scores, labels), objects in zip(found, targets.cpu(), strict=True):
        truth_boxes, truth_labels = true_boxes(objects)
        shown = scores >= score_threshold
        boxes, scores, labels = boxes[shown].cpu(), scores[shown].cpu(), labels[shown].cpu()
        # numpy, not torch, in the loop over detections: a torch call's overhead made this loop
        # most of the sliding-window detector's plots (its thousands of detections a split)
        overlaps = box_iou(boxes, truth_boxes).numpy() if len(boxes) and len(truth_boxes) else None
        taken = np.zeros(len(truth_boxes), dtype=bool)
        truth, found_labels = truth_labels.tolist(), labels.tolist()
        for i in torch.argsort(scores, descending=True, stable=True).tolist():
            best = -1
            if overlaps is not None:
                candidates = np.where(taken, -1.0, overlaps[i])
                best = int(candidates.argmax()) if candidates.max() >= IOU else -1
            if best >= 0:
                taken[best] = True
            actual.append(truth[best] if best >= 0 else classes)
            predicted.append(found_labels[i])
        for missed in truth_labels[torch.from_numpy(~taken)].tolist():
            actual.append(missed)
            predicted.append(classes)
    return torch.tensor(actual, dtype=torch.long), torch.tensor(predicted, dtype=torch.long)
