"""YOLO's targets, loss and decoding: outputs built from the targets decode back to the
objects; the loss is zero-gradient there and gradient-checked; the network learns scenes."""

from __future__ import annotations

import pytest
import torch

from conftest import coco_truth
from dlpipe.tasks.detect.detectors import detections
from dlpipe.tasks.detect.yolo import assign, decode, objectness, per_anchor, yolo_loss

ANCHORS = torch.tensor([[0.1, 0.15], [0.25, 0.3], [0.4, 0.2]], dtype=torch.float64)
GRID, CLASSES = 6, 4
# (class, cx, cy, w, h): two images, the second padded with a class −1 row
TARGETS = torch.tensor(
    [
        [[2, 0.30, 0.40, 0.12, 0.16], [0, 0.75, 0.20, 0.28, 0.33], [3, 0.52, 0.81, 0.38, 0.22]],
        [[1, 0.10, 0.90, 0.09, 0.14], [-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]],
    ],
    dtype=torch.float64,
)


def perfect_outputs(targets: torch.Tensor) -> torch.Tensor:
    """Raw outputs that say exactly ``targets``: certain objects where assigned, none elsewhere."""
    assigned = assign(targets, ANCHORS, GRID)
    cells = torch.zeros(len(targets), len(ANCHORS), GRID, GRID, 5 + CLASSES, dtype=torch.float64)
    cells[..., 4] = -30.0
    chosen = torch.zeros(int(assigned.mask.sum()), 5 + CLASSES, dtype=torch.float64)
    chosen[:, :2] = torch.logit(assigned.offsets.clamp(1e-9, 1 - 1e-9))
    chosen[:, 2:4] = assigned.log_sizes
    chosen[:, 4] = 30.0
    chosen[torch.arange(len(chosen)), 5 + assigned.classes] = 30.0
    cells[assigned.mask] = chosen
    return cells.permute(0, 1, 4, 2, 3).reshape(len(targets), -1, GRID, GRID)


def test_each_object_goes_to_the_cell_of_its_centre_and_its_best_fitting_anchor():
    assigned = assign(TARGETS, ANCHORS, GRID)
    image, anchor, row, col = torch.nonzero(assigned.mask, as_tuple=True)
    assert list(zip(image.tolist(), anchor.tolist(), row.tolist(), col.tolist(), strict=True)) == [
        (0, 0, 2, 1),  # 0.30·6 = 1.8 → column 1, 0.40·6 = 2.4 → row 2; 0.12×0.16 fits anchor 0
        (0, 1, 1, 4),
        (0, 2, 4, 3),
        (1, 0, 5, 0),
    ]
    assert torch.allclose(assigned.offsets[0], torch.tensor([0.8, 0.4], dtype=torch.float64))
    assert assigned.classes.tolist() == [2, 0, 3, 1]


def test_outputs_built_from_the_targets_decode_back_to_them_and_cost_no_gradient():
    outputs = perfect_outputs(TARGETS)
    found = detections("yolo", outputs, CLASSES, score_threshold=0.5, iou_threshold=0.5)
    for objects, (boxes, scores, labels) in zip(TARGETS, found, strict=True):
        real = objects[objects[:, 0] >= 0]
        cx, cy, w, h = real[:, 1:].T
        expected = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
        order = torch.argsort(labels)
        assert labels[order].tolist() == sorted(real[:, 0].long().tolist())
        assert torch.allclose(boxes[order], expected[torch.argsort(real[:, 0])], atol=1e-7)
        assert (scores > 0.99).all()
    outputs.requires_grad_(True)
    yolo_loss(outputs, TARGETS, ANCHORS, 5.0, 0.5).backward()
    assert outputs.grad.abs().max() < 1e-6


def test_two_objects_claiming_one_cell_and_anchor_leave_one_target():
    twins = torch.tensor([[[0, 0.30, 0.40, 0.12, 0.16], [1, 0.31, 0.41, 0.11, 0.15]]], dtype=torch.float64)
    assigned = assign(twins, ANCHORS, GRID)
    assert int(assigned.mask.sum()) == len(assigned.classes) == 1
    assert assigned.classes.tolist() == [1]  # the later claimant


def test_the_loss_is_gradient_checked_with_its_objectness_targets_held():
    torch.manual_seed(0)
    outputs = torch.randn(
        2, len(ANCHORS) * (5 + CLASSES), GRID, GRID, dtype=torch.float64, requires_grad=True
    )
    held = objectness(per_anchor(outputs, len(ANCHORS)), TARGETS, assign(TARGETS, ANCHORS, GRID), 0.5)
    assert torch.autograd.gradcheck(lambda o: yolo_loss(o, TARGETS, ANCHORS, 5.0, 0.5, held), (outputs,))
    # held or not, the loss is one number: the targets are constants of it
    assert torch.equal(
        yolo_loss(outputs, TARGETS, ANCHORS, 5.0, 0.5, held), yolo_loss(outputs, TARGETS, ANCHORS, 5.0, 0.5)
    )


def test_p_c_learns_the_iou_of_its_box_and_no_guess_overlapping_an_object_is_punished():
    outputs = perfect_outputs(TARGETS)
    cells = per_anchor(outputs, len(ANCHORS)).clone()
    assigned = assign(TARGETS, ANCHORS, GRID)
    image, anchor, row, col = torch.nonzero(assigned.mask, as_tuple=True)[0:4]
    # the first object's box twice as wide, about its centre: IoU ½
    cells[image[0], anchor[0], row[0], col[0], 2] += torch.log(torch.tensor(2.0, dtype=torch.float64))
    # the same box, from another anchor of its cell: IoU 1, not assigned
    cells[image[0], 1, row[0], col[0], :4] = per_anchor(outputs, len(ANCHORS))[
        image[0], anchor[0], row[0], col[0], :4
    ]
    held = objectness(cells, TARGETS, assigned, 0.5)
    assert float(held.wanted[image[0], anchor[0], row[0], col[0]]) == pytest.approx(0.5)
    assert held.wanted[image[1:], anchor[1:], row[1:], col[1:]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert held.weights[image[0], 1, row[0], col[0]] == 0.0
    assert held.weights[assigned.mask].tolist() == [1.0] * 4
    assert held.weights.sum() == 4 + 0.5 * (held.weights.numel() - 5)


def test_decoding_places_a_box_by_its_cell_and_anchor():
    cells = torch.zeros(1, len(ANCHORS), GRID, GRID, 5 + CLASSES, dtype=torch.float64)
    outputs = cells.permute(0, 1, 4, 2, 3).reshape(1, -1, GRID, GRID)
    boxes, scores, _ = decode(outputs, len(ANCHORS))
    # all zeros: σ(0) = ½ puts each centre mid-cell, e^0 a box of the image's size
    first = per_anchor(outputs, len(ANCHORS))  # shape check of the view
    assert first.shape == (1, 3, GRID, GRID, 5 + CLASSES)
    assert torch.allclose(
        boxes[0, 0],
        torch.tensor([0.5 / 6 - 0.5, 0.5 / 6 - 0.5, 0.5 / 6 + 0.5, 0.5 / 6 + 0.5], dtype=torch.float64),
    )
    assert torch.allclose(scores, torch.full_like(scores, 0.5 / CLASSES))


def test_the_network_learns_to_find_every_digit_of_a_few_scenes():
    from sklearn.datasets import load_digits
    from torchmetrics.detection import MeanAveragePrecision

    from dlpipe.data.detection_scenes import make_detection_scenes
    from dlpipe.models.yolo import yolo
    from dlpipe.tasks.detect.anchors import kmeans_anchors

    torch.manual_seed(0)
    digits = load_digits()
    scenes = make_detection_scenes(digits.images, digits.target, 16, 64, 3, (0.2, 0.4), 0.1, seed=0)
    anchors = torch.tensor(kmeans_anchors(scenes.boxes[:, 2:], 3, seed=0)[0], dtype=torch.float32)
    x = torch.from_numpy(scenes.images).permute(0, 3, 1, 2).float() / 255 - 0.5
    targets = torch.full((16, 3, 5), -1.0)
    for i in range(16):
        rows = (scenes.image == i).nonzero()[0]
        targets[i, : len(rows), 0] = torch.from_numpy(scenes.labels[rows]).float()
        targets[i, : len(rows), 1:] = torch.from_numpy(scenes.boxes[rows])
    model = yolo(3, 10, 64)
    model.anchor_sizes.copy_(anchors)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(150):
        loss = yolo_loss(model(x), targets, anchors, 5.0, 0.5)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        found = detections("yolo", model.eval()(x), 10, score_threshold=0.05, iou_threshold=0.5)
    score = MeanAveragePrecision(iou_type="bbox")
    score.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], coco_truth(targets))
    assert float(score.compute()["map_50"]) > 0.95  # it saw these scenes: it must find them
