"""Test-time augmentation and the leaderboard's ensemble row."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlpipe import disk, paths
from dlpipe.evaluation.tta import five_crops, predict_probabilities, views
from dlpipe.stages.leaderboard import ensemble_row


class _FlipInvariant(nn.Module):
    """Logits from each row's mean: mirroring the image left to right changes nothing."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 3)

    def forward(self, x):
        return self.linear(x.mean(dim=-1).flatten(1))


def test_flip_tta_on_a_flip_invariant_model_is_the_single_view_result():
    torch.manual_seed(0)
    model, x = _FlipInvariant(), torch.randn(5, 1, 8, 8)
    single = predict_probabilities(model, x, "none")
    assert np.allclose(predict_probabilities(model, x, "flip"), single, atol=1e-6)


def test_flip_tta_averages_the_image_and_its_mirror():
    torch.manual_seed(0)
    model, x = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), torch.randn(5, 1, 8, 8)
    expected = (predict_probabilities(model, x) + predict_probabilities(model, x.flip(-1))) / 2
    assert np.allclose(predict_probabilities(model, x, "flip"), expected, atol=1e-6)
    assert not np.allclose(expected, predict_probabilities(model, x), atol=1e-3)


def test_ten_crops_are_the_centre_the_corners_and_their_mirrors():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    crops = views(x, "ten_crop", padding=1)
    assert len(crops) == 10 and all(c.shape == x.shape for c in crops)
    assert torch.equal(crops[0], x)  # the centre crop of the padded image is the image
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    assert torch.equal(crops[1], padded[..., :4, :4])  # top-left
    assert torch.equal(crops[4], padded[..., 2:, 2:])  # bottom-right
    assert all(torch.equal(crops[5 + i], crops[i].flip(-1)) for i in range(5))
    assert len(five_crops(x, 1)) == 5


def test_unknown_tta_mode_is_refused():
    with pytest.raises(ValueError, match="unknown test-time augmentation 'twelve'"):
        predict_probabilities(nn.Flatten(), torch.zeros(1, 1, 2, 2), "twelve")


def _member(name: str, probabilities: list[list[float]], labels: list[int]) -> dict:
    disk.save_arrays(
        paths.test_probabilities(name),
        {
            "probabilities": np.array(probabilities, dtype=np.float32),
            "labels": np.array(labels),
            "class_names": np.array(["a", "b"]),
        },
    )
    costs = {"parameters": 10, "macs_per_image": 100, "train_seconds": 1.5, "onnx_latency_ms": 0.25}
    return {"model": name, **costs}


def test_ensemble_averages_member_probabilities(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = [0, 1, 1]
    # Each member gets one example wrong; the average of their probabilities gets all three right.
    rows = [
        _member("m1", [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], labels),
        _member("m2", [[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]], labels),
    ]
    row = ensemble_row(["m1", "m2"], rows, {"b": 3.0})
    assert row["accuracy"] == 1.0 and row["weighted_error"] == 0.0
    assert row["architecture"] == "m1+m2" and row["parameters"] == 20 and row["onnx_latency_ms"] == 0.5
    rows.append(_member("m3", [[0.1, 0.9], [0.9, 0.1], [0.9, 0.1]], labels))
    worse = ensemble_row(["m1", "m3"], rows, {"b": 3.0})
    # average: [0.5,0.5] -> a (right), [0.75,0.25] -> a (wrong, weight 3), [0.55,0.45] -> a (wrong, 3)
    assert worse["accuracy"] == pytest.approx(1 / 3, abs=1e-6)
    assert worse["weighted_error"] == pytest.approx(6 / 7, abs=1e-6)


def test_ensemble_of_members_evaluated_on_different_test_sets_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [_member("m1", [[0.9, 0.1]], [0]), _member("m2", [[0.9, 0.1]], [1])]
    with pytest.raises(Exception, match="leaderboard.ensemble: m1, m2 were evaluated on different test sets"):
        ensemble_row(["m1", "m2"], rows, {})
