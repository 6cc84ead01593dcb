"""YOLO's targets, loss and decoding, as the notes build them (v2: anchor boxes).

The output of models/yolo.py holds, per grid cell (row i, column j) and anchor a of size
(p_w, p_h), (t_x, t_y, u_w, u_h, t_o, c_1 … c_n), where u = t + ln p: the network adds its
anchors' log sizes itself, so what it outputs decodes without them (in an exported model
too). They decode to

    b_x = (j + σ(t_x)) / S,   b_y = (i + σ(t_y)) / S,   b_w = p_w·e^(t_w) = e^(u_w),   b_h = e^(u_h)
    p_c = σ(t_o),             score of class k = p_c · softmax(c)_k

(normalised by the image side). An object is assigned to the cell holding its centre and to
that cell's anchor of highest IoU with its size (anchors.size_iou); should two objects
claim the same cell and anchor, one of them is kept. The loss, summed over anchors and
averaged over images:

    box_weight · Σ_assigned [(σ(t_x) − x̂)² + (σ(t_y) − ŷ)² + (u_w − ln w)² + (u_h − ln h)²]
    + Σ_assigned BCE(t_o, IoU(box, its object)) + no_object_weight · Σ_unclaimed BCE(t_o, 0)
    + Σ_assigned CE(c, class)

where (x̂, ŷ) is the centre's offset inside its cell; (u_w − ln w)² is YOLO v2's
(t_w − ln(w/p_w))². As in YOLO v2, p_c learns the IoU of its box with its object (not 1),
so a better-placed box outranks a worse one at NMS and in the mAP's ranking; and a box
that is not assigned but overlaps some object by more than IGNORE_IOU is unclaimed by
neither term (it is a fair guess, and no reason to lower p_c). Targets are N×K×5 rows
(class, cx, cy, w, h), class −1 for the rows that pad an image's objects to K.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.ops import box_convert

from dlpipe.tasks.detect.boxes import batched_iou

IGNORE_IOU = 0.6  # YOLO v2's


@dataclass
class Assigned:
    """Where objects were assigned, and what the outputs there should be."""

    mask: Tensor  # bool N×A×S×S
    offsets: Tensor  # M×2: (x̂, ŷ), the centre inside its cell
    log_sizes: Tensor  # M×2: (ln w, ln h)
    classes: Tensor  # int64 M
    boxes: Tensor  # M×4: the objects' corners (x1, y1, x2, y2), normalised


def per_anchor(outputs: Tensor, anchors: int) -> Tensor:
    """N × anchors·(5+C) × S × S -> N × anchors × S × S × (5+C)."""
    batch, channels, rows, cols = outputs.shape
    return outputs.view(batch, anchors, channels // anchors, rows, cols).permute(0, 1, 3, 4, 2)


def _size_iou(sizes: Tensor, anchors: Tensor) -> Tensor:
    overlap = torch.minimum(sizes[:, None, 0], anchors[None, :, 0]) * torch.minimum(
        sizes[:, None, 1], anchors[None, :, 1]
    )
    return overlap / (sizes[:, None].prod(-1) + anchors[None].prod(-1) - overlap)


def assign(targets: Tensor, anchors: Tensor, grid: int) -> Assigned:
    """The cell and anchor of every object of ``targets`` (anchors: A×2 normalised sizes)."""
    batch = targets.shape[0]
    image, row = torch.nonzero(targets[..., 0] >= 0, as_tuple=True)
    objects = targets[image, row]
    centres, sizes = objects[:, 1:3] * grid, objects[:, 3:5]
    cells = centres.floor().clamp(0, grid - 1)
    anchor = _size_iou(sizes, anchors).argmax(dim=1)
    col, row_of_cell = cells[:, 0].long(), cells[:, 1].long()
    mask = torch.zeros(batch, len(anchors), grid, grid, dtype=torch.bool, device=targets.device)
    mask[image, anchor, row_of_cell, col] = True
    # Unique positions in the mask's own (row-major) order, the last claimant of each kept.
    position = ((image * len(anchors) + anchor) * grid + row_of_cell) * grid + col
    order = torch.argsort(position, stable=True)
    last = torch.ones_like(order, dtype=torch.bool)
    last[:-1] = position[order][1:] != position[order][:-1]
    kept = order[last]
    return Assigned(
        mask=mask,
        offsets=(centres - cells)[kept],
        log_sizes=torch.log(sizes[kept]),
        classes=objects[kept, 0].long(),
        boxes=box_convert(objects[kept, 1:5], "cxcywh", "xyxy"),
    )


def _corners(cells: Tensor) -> Tensor:
    """N×A×S×S×(5+C) outputs -> N×A×S×S×4 box corners, normalised by the image side."""
    rows, cols = cells.shape[2:4]
    row, col = torch.meshgrid(
        torch.arange(rows, device=cells.device), torch.arange(cols, device=cells.device), indexing="ij"
    )
    centre_x = (col.to(cells) + torch.sigmoid(cells[..., 0])) / cols
    centre_y = (row.to(cells) + torch.sigmoid(cells[..., 1])) / rows
    width, height = torch.exp(cells[..., 2]), torch.exp(cells[..., 3])
    return torch.stack(
        [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2], -1
    )


@dataclass
class Objectness:
    """What each anchor's p_c should be, and how much its BCE counts (N×A×S×S each)."""

    wanted: Tensor
    weights: Tensor


@torch.no_grad()
def objectness(cells: Tensor, targets: Tensor, assigned: Assigned, no_object_weight: float) -> Objectness:
    """The p_c targets of the loss above for the outputs ``cells`` (N×A×S×S×(5+C)): constants
    of the loss, as in YOLO v2, so no gradient flows through the IoU they hold."""
    corners = _corners(cells)
    truths = box_convert(targets[..., 1:5], "cxcywh", "xyxy")
    overlaps = batched_iou(corners.flatten(1, 3), truths).masked_fill(targets[:, None, :, 0] < 0, 0.0)
    near = F.pad(overlaps, (0, 1)).amax(dim=2).view(assigned.mask.shape) > IGNORE_IOU
    wanted = torch.zeros_like(cells[..., 4])
    wanted[assigned.mask] = batched_iou(corners[assigned.mask][:, None], assigned.boxes[:, None])[:, 0, 0]
    weights = torch.where(assigned.mask, 1.0, torch.where(near, 0.0, no_object_weight))
    return Objectness(wanted, weights.to(cells.dtype))


def yolo_loss(
    outputs: Tensor,
    targets: Tensor,
    anchors: Tensor,
    box_weight: float,
    no_object_weight: float,
    held: Objectness | None = None,
) -> Tensor:
    """The loss above, for the raw ``outputs`` of a batch; ``held``: p_c targets to use in
    place of those of ``outputs`` (for a gradient check, which moves the outputs)."""
    cells = per_anchor(outputs, len(anchors))
    assigned = assign(targets, anchors, cells.shape[2])
    chosen = cells[assigned.mask]  # M × (5+C), in the mask's order, as assign's targets
    held = held or objectness(cells, targets, assigned, no_object_weight)
    bce = F.binary_cross_entropy_with_logits(cells[..., 4], held.wanted, reduction="none")
    loss = (held.weights * bce).sum()
    if len(chosen):
        box = ((torch.sigmoid(chosen[:, :2]) - assigned.offsets) ** 2).sum()
        box = box + ((chosen[:, 2:4] - assigned.log_sizes) ** 2).sum()
        loss = loss + box_weight * box + F.cross_entropy(chosen[:, 5:], assigned.classes, reduction="sum")
    return loss / outputs.shape[0]


def decode(outputs: Tensor, anchors: int) -> tuple[Tensor, Tensor, Tensor]:
    """Every anchor's box (N×P×4 corners x1, y1, x2, y2, normalised), score and class (N×P),
    P = anchors·S·S."""
    cells = per_anchor(outputs, anchors)
    batch = cells.shape[0]
    corners = _corners(cells)
    class_scores = torch.sigmoid(cells[..., 4:5]) * torch.softmax(cells[..., 5:], dim=-1)
    scores, labels = class_scores.max(dim=-1)
    return corners.reshape(batch, -1, 4), scores.reshape(batch, -1), labels.reshape(batch, -1)
