"""The notes' NMS (reference_nms) and torchvision's (nms) keep the same boxes, on random boxes
and on hand-made cases."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpipe.tasks.detect.nms import nms, reference_nms


@st.composite
def detections(draw):
    count = draw(st.integers(0, 40))
    corners = draw(
        st.lists(
            st.tuples(*[st.integers(0, 48)] * 2, *[st.integers(1, 24)] * 2), min_size=count, max_size=count
        )
    )
    boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in corners], dtype=torch.float32).reshape(-1, 4)
    # distinct scores: with ties, which of two equal boxes survives is either's
    scores = torch.tensor(draw(st.permutations(range(1, count + 1))), dtype=torch.float32) / (count + 1)
    labels = torch.tensor(
        draw(st.lists(st.integers(0, 2), min_size=count, max_size=count)), dtype=torch.int64
    )
    return boxes, scores, labels


@settings(max_examples=150, deadline=None)
@given(detections(), st.sampled_from([0.1, 0.3, 0.5, 0.7]), st.floats(0.0, 1.0))
def test_reference_and_torchvision_keep_the_same_boxes_in_the_same_order(
    found, iou_threshold, score_threshold
):
    boxes, scores, labels = found
    expected = reference_nms(boxes, scores, labels, iou_threshold, score_threshold)
    assert nms(boxes, scores, labels, iou_threshold, score_threshold).tolist() == expected.tolist()


def test_an_iou_of_exactly_the_threshold_is_compared_as_torchvision_compares_it():
    # IoU 36/120 = 0.3, above 0.3 once rounded to float32: both suppress the 6×6 box
    boxes = torch.tensor([[0, 0, 1, 1], [0, 0, 6, 6], [0, 0, 6, 20]], dtype=torch.float32)
    scores, labels = torch.tensor([0.25, 0.5, 0.75]), torch.tensor([0, 0, 0])
    assert reference_nms(boxes, scores, labels, 0.3, 0.0).tolist() == [2, 0]
    assert nms(boxes, scores, labels, 0.3, 0.0).tolist() == [2, 0]


def test_an_overlapping_weaker_box_of_the_same_class_is_suppressed_and_kept_for_another():
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 0, 11, 10], [1, 0, 11, 10], [30, 30, 40, 40]], dtype=torch.float32
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.2])
    labels = torch.tensor([0, 0, 1, 0])
    for suppress in (reference_nms, nms):
        # box 1 overlaps box 0 (IoU 9/11) in class 0: gone; box 2 is class 1: kept; box 3 below 0.3: dropped
        assert suppress(boxes, scores, labels, 0.5, 0.3).tolist() == [0, 2]
        assert suppress(boxes, scores, labels, 0.85, 0.0).tolist() == [0, 1, 2, 3]  # 9/11 ≤ 0.85
