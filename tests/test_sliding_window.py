"""The convolutional form of the window classifier gives the crop-by-crop scores in one pass."""

from __future__ import annotations

import pytest
import torch

from dlpipe.models.sliding_window import STRIDE, WindowClassifier, convolutional


def crop_by_crop(classifier: WindowClassifier, scene: torch.Tensor) -> torch.Tensor:
    """classes × rows × columns: the classifier on every crop at the stride, one pass each."""
    window, (height, width) = classifier.window, scene.shape[-2:]
    rows = [
        torch.stack(
            [
                classifier(scene[None, :, top : top + window, left : left + window])[0]
                for left in range(0, width - window + 1, STRIDE)
            ],
            dim=-1,
        )
        for top in range(0, height - window + 1, STRIDE)
    ]
    return torch.stack(rows, dim=-2)


@pytest.mark.parametrize("window, size", [(28, (96, 96)), (20, (40, 52)), (32, (33, 70))])
def test_one_convolutional_pass_equals_the_classifier_on_every_crop(window, size):
    torch.manual_seed(0)
    classifier = WindowClassifier(3, 11, window=window).eval()
    scene = torch.rand(3, *size)
    with torch.no_grad():
        expected = crop_by_crop(classifier, scene)
        scores = convolutional(classifier)(scene[None])[0]
    assert scores.shape == expected.shape == (11, (size[0] - window) // 4 + 1, (size[1] - window) // 4 + 1)
    assert torch.allclose(scores, expected, atol=1e-5, rtol=0)


def test_a_window_the_poolings_cannot_tile_is_refused():
    with pytest.raises(ValueError, match=r"^window must be a multiple of 4 and at least 20 \(got 30\)$"):
        WindowClassifier(3, 11, window=30)


def test_the_classifiers_own_score_map_is_its_convolutional_form():
    torch.manual_seed(0)
    classifier = WindowClassifier(3, 11, window=20).eval()
    scene = torch.rand(2, 3, 44, 60)
    with torch.no_grad():
        assert torch.allclose(
            classifier.score_map(scene), convolutional(classifier)(scene), atol=1e-6, rtol=0
        )


def test_the_detector_scores_each_window_of_each_resized_scene_as_the_classifier_scores_its_crop():
    from torch.nn import functional as F

    from dlpipe.models.sliding_window import sliding_window

    torch.manual_seed(0)
    detector = sliding_window(3, 10, 48, sides=(0.5, 0.8), window=20, width=4, hidden=16).eval()
    assert detector.resized == [40, 25]  # 20 / 0.5 and 20 / 0.8 pixels
    scenes = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        outputs = detector(scenes)
        assert outputs.shape == (2, 6 * 6 + 2 * 2, 4 + 11)
        position = 0
        for size in detector.resized:
            resized = F.interpolate(scenes, size=(size, size), mode="bilinear", align_corners=False)
            for top in range(0, size - 20 + 1, STRIDE):
                for left in range(0, size - 20 + 1, STRIDE):
                    crop = resized[:, :, top : top + 20, left : left + 20]
                    assert torch.allclose(outputs[:, position, 4:], detector.classifier(crop), atol=1e-5)
                    box = torch.tensor([left, top, left + 20, top + 20]) / size  # shares of the scene's side
                    assert torch.allclose(outputs[:, position, :4], box.expand(2, 4))
                    position += 1


def test_windows_are_labelled_by_their_best_overlap_with_an_object():
    from dlpipe.tasks.detect.windows import UNLABELLED, window_labels

    windows = torch.tensor(
        [
            [0.1, 0.1, 0.3, 0.3],  # the object itself: IoU 1
            [0.15, 0.1, 0.35, 0.3],  # shifted by a quarter: IoU 0.6
            [0.2, 0.1, 0.4, 0.3],  # by half: IoU 1/3, neither object nor background
            [0.3, 0.1, 0.5, 0.3],  # beside it: IoU 0
        ]
    )
    targets = torch.tensor(
        [[[7, 0.2, 0.2, 0.2, 0.2], [-1, 0, 0, 0, 0]], [[-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]]
    )
    labels = window_labels(windows, targets, classes=10)
    assert labels.tolist() == [
        [7, 7, UNLABELLED, 10],
        [10, 10, 10, 10],
    ]  # a scene without objects: background


def test_a_training_step_learns_from_a_budget_of_crops_per_scene():
    from dlpipe.models.sliding_window import sliding_window
    from dlpipe.tasks.detect.windows import CROPS_PER_SCENE, crop_loss

    torch.manual_seed(0)
    detector = sliding_window(3, 10, 48, sides=(0.5,), window=20, width=4, hidden=16)
    targets = torch.tensor([[[3, 0.5, 0.5, 0.45, 0.45]], [[-1, 0, 0, 0, 0]]])
    loss, logits = crop_loss(detector, torch.rand(2, 3, 48, 48), targets)
    assert logits.shape == (2 * CROPS_PER_SCENE, 11)
    loss.backward()
    assert detector.classifier.features[0].weight.grad.abs().sum() > 0
