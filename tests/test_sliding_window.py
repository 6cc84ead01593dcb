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
