"""The training loop's mAP@0.5 from binned sums agrees with torchmetrics' COCO mAP@0.5, and
hand-made cases score what they must."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.detection import MeanAveragePrecision

from conftest import coco_truth
from dlpipe.tasks.detect.scores import counted, mean_average_precision

CLASSES = 3


def _targets(truths: list[list[tuple[int, float, float, float, float]]]) -> torch.Tensor:
    rows = max(len(t) for t in truths)
    out = torch.full((len(truths), rows, 5), -1.0)
    for i, objects in enumerate(truths):
        for j, row in enumerate(objects):
            out[i, j] = torch.tensor(row, dtype=torch.float32)
    return out


def _ours(found, targets) -> float:
    return float(mean_average_precision(**counted(found, targets, CLASSES)))


def _coco_summary(found, targets) -> dict:
    """torchmetrics' COCO evaluation on pycocotools, precision included."""
    score = MeanAveragePrecision(iou_type="bbox", backend="pycocotools", extended_summary=True)
    score.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], coco_truth(targets))
    return score.compute()


def _coco(found, targets) -> float:
    return float(_coco_summary(found, targets)["map_50"])


def test_a_perfect_detection_scores_one_and_a_box_shifted_below_half_overlap_zero():
    targets = _targets([[(1, 0.5, 0.5, 0.2, 0.2)]])
    perfect = [(torch.tensor([[0.4, 0.4, 0.6, 0.6]]), torch.tensor([0.9]), torch.tensor([1]))]
    shifted = [(torch.tensor([[0.5, 0.4, 0.7, 0.6]]), torch.tensor([0.9]), torch.tensor([1]))]  # IoU 1/3
    wrong_class = [(torch.tensor([[0.4, 0.4, 0.6, 0.6]]), torch.tensor([0.9]), torch.tensor([2]))]
    assert _ours(perfect, targets) == 1.0 == _coco(perfect, targets)
    assert _ours(shifted, targets) == 0.0 == _coco(shifted, targets)
    assert _ours(wrong_class, targets) == 0.0


def noisy_detections() -> tuple[list, torch.Tensor]:
    """40 images of 1-4 objects; detections jittered about them (some below IoU 0.5), a tenth of
    the wrong class, and two spurious low-scoring boxes each."""
    generator = torch.Generator().manual_seed(0)
    truths, found = [], []
    for _ in range(40):
        count = int(torch.randint(1, 5, (1,), generator=generator))
        centres = 0.2 + 0.6 * torch.rand(count, 2, generator=generator)
        sizes = 0.1 + 0.1 * torch.rand(count, 2, generator=generator)
        labels = torch.randint(0, CLASSES, (count,), generator=generator)
        truths.append(
            [
                (int(c), *map(float, xy), *map(float, wh))
                for c, xy, wh in zip(labels, centres, sizes, strict=True)
            ]
        )
        noisy = centres + 0.025 * torch.randn(count, 2, generator=generator)  # some fall below IoU 0.5
        boxes = torch.cat([noisy - sizes / 2, noisy + sizes / 2], 1)
        spurious = torch.rand(2, 4, generator=generator).sort(-1).values[:, [0, 1, 2, 3]]
        spurious = torch.stack(
            [spurious[:, 0], spurious[:, 1], spurious[:, 0] + 0.1, spurious[:, 1] + 0.1], 1
        )
        flipped = torch.where(torch.rand(count, generator=generator) < 0.1, (labels + 1) % CLASSES, labels)
        found.append(
            (
                torch.cat([boxes, spurious]),
                torch.cat(
                    [
                        0.4 + 0.6 * torch.rand(count, generator=generator),
                        0.6 * torch.rand(2, generator=generator),
                    ]
                ),
                torch.cat([flipped, torch.randint(0, CLASSES, (2,), generator=generator)]),
            )
        )
    return found, _targets(truths)


def test_binned_map50_agrees_with_torchmetrics_on_noisy_detections():
    found, targets = noisy_detections()
    ours, coco = _ours(found, targets), _coco(found, targets)
    assert 0.2 < coco < 0.9  # neither trivial
    assert abs(ours - coco) < 0.02  # all-point against COCO's 101-point interpolation


def test_pycocotools_and_faster_coco_eval_agree_and_score_the_hand_made_cases():
    from dlpipe.tasks.detect.coco import evaluation

    found, targets = noisy_detections()
    reference, fast = (
        evaluation(found, targets, "pycocotools"),
        evaluation(found, targets, "faster_coco_eval"),
    )
    for key in ("map", "map_50", "mar_100", "precision"):
        assert np.allclose(reference[key], fast[key], atol=1e-3), key
    assert 0.2 < fast["map_50"] < 0.9
    one = _targets([[(1, 0.5, 0.5, 0.2, 0.2)]])
    perfect = [(torch.tensor([[0.4, 0.4, 0.6, 0.6]]), torch.tensor([0.9]), torch.tensor([1]))]
    shifted = [(torch.tensor([[0.5, 0.4, 0.7, 0.6]]), torch.tensor([0.9]), torch.tensor([1]))]  # IoU 1/3
    for backend in ("pycocotools", "faster_coco_eval"):
        assert evaluation(perfect, one, backend)["map"] == pytest.approx(1.0, abs=1e-12)
        assert evaluation(shifted, one, backend)["map_50"] == 0.0


def test_the_coco_evaluation_is_torchmetrics_with_every_class_in_one_run():
    from dlpipe.tasks.detect.coco import evaluation

    found, targets = noisy_detections()
    ours = evaluation(found, targets)
    theirs = _coco_summary(found, targets)
    # torchmetrics rounds COCO's IoU and recall thresholds to float32: IoUs near a threshold fall
    # the other way (1.4e-4 of mAP@0.5:0.95 here)
    for key in ("map", "map_50", "mar_100"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-3), key
    assert ours["classes"].tolist() == theirs["classes"].tolist()
    per_class = np.clip(ours["precision"], 0, None).mean(0)  # AP@0.5 of each class
    assert np.allclose(
        per_class, np.clip(theirs["precision"][0, :, :, 0, -1].numpy(), 0, None).mean(0), atol=1e-4
    )
    nothing = [(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64)) for _ in found]
    assert evaluation(nothing, targets)["map_50"] == 0.0


def test_the_confusion_matrix_counts_missed_objects_and_false_alarms_as_background():
    from dlpipe.tasks.detect.scores import confusion_pairs

    targets = _targets([[(1, 0.5, 0.5, 0.2, 0.2), (2, 0.2, 0.2, 0.1, 0.1)], [(0, 0.7, 0.7, 0.2, 0.2)]])
    found = [
        (  # the first object found as class 0; the second missed; a false alarm; one below the threshold
            torch.tensor([[0.4, 0.4, 0.6, 0.6], [0.8, 0.8, 0.9, 0.9], [0.15, 0.15, 0.25, 0.25]]),
            torch.tensor([0.9, 0.5, 0.1]),
            torch.tensor([0, 2, 2]),
        ),
        (torch.tensor([[0.6, 0.6, 0.8, 0.8]]), torch.tensor([0.8]), torch.tensor([0])),  # right
    ]
    actual, predicted = confusion_pairs(found, targets, CLASSES, score_threshold=0.3)
    assert sorted(zip(actual.tolist(), predicted.tolist(), strict=True)) == [
        (0, 0),  # image 2: right
        (1, 0),  # the wrong class at the right place
        (2, CLASSES),  # missed (its only detection scored 0.1)
        (CLASSES, 2),  # the false alarm
    ]
