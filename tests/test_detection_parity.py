"""Export parity after decoding and NMS: outputs that lead to the same detections pass, and a
moved box, a changed class or a score off by more than 1e-4 is counted."""

from __future__ import annotations

import numpy as np
import pytest

from dlpipe.config import load_params
from dlpipe.tasks.detect.parity import check

CLASSES = 4


@pytest.fixture
def eager(project) -> np.ndarray:
    """Sliding-window outputs of two scenes: 3 windows each, the first two sure of a digit."""
    project()
    windows = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.8, 0.8], [0.0, 0.0, 0.2, 0.2]])
    logits = np.full((2, 3, CLASSES + 1), -4.0)
    logits[:, 0, 1] = logits[:, 1, 3] = 4.0  # digit 1 in window 0 (score 0.99866), digit 3 in window 1
    logits[:, 2, CLASSES] = 4.0  # background
    return np.concatenate([np.broadcast_to(windows, (2, 3, 4)), logits], axis=2)


def test_outputs_that_lead_to_the_same_detections_pass(eager: np.ndarray):
    nearby = eager + 1e-7
    assert check(load_params(), "sliding_window", CLASSES, eager, [nearby, eager]) == {
        "detections": 4,
        "detections_unmatched": [0, 0],
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda out: out.__setitem__((0, 0, slice(0, 4)), [0.12, 0.1, 0.32, 0.3]),  # moved: IoU 0.82
        lambda out: out.__setitem__((0, 0, 4 + 2), 8.0),  # digit 2 now
        lambda out: out.__setitem__((0, 0, 4 + 1), 5.0),  # its score 0.99866 -> 0.99951
    ],
)
def test_a_moved_box_another_class_or_another_score_is_counted(eager: np.ndarray, change):
    exported = eager.copy()
    change(exported)
    assert check(load_params(), "sliding_window", CLASSES, eager, [eager, exported])[
        "detections_unmatched"
    ] == [0, 2]


def test_detections_pair_one_to_one_when_one_could_match_two():
    import torch

    from dlpipe.tasks.detect.parity import _unmatched

    box = torch.tensor([[0.1, 0.1, 0.3, 0.3]])
    twice = (box.repeat(2, 1), torch.tensor([0.9, 0.9]), torch.tensor([1, 1]))
    once = (box, torch.tensor([0.9]), torch.tensor([1]))
    assert _unmatched(twice, once) == 1  # the second copy has nothing left to pair with
    assert _unmatched(once, twice) == 1
    assert _unmatched(once, once) == 0
