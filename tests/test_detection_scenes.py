"""Detection scenes: 1 to max_objects real digits per scene, boxes tight around their ink, little
overlap, digits only from the pool given, the same scenes for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from dlpipe.data import detection_scenes as module
from dlpipe.data.detection_scenes import make_detection_scenes

SIZE = 96
SETTINGS = {"image_size": SIZE, "max_objects": 6, "side_share": (0.15, 0.4), "max_overlap": 0.1}


@pytest.fixture(scope="module")
def digits():
    bunch = load_digits()
    return bunch.images, bunch.target


def _corners(boxes: np.ndarray) -> np.ndarray:
    cx, cy, w, h = (boxes * SIZE).T
    return np.round(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)).astype(int)


def test_every_scene_holds_one_to_max_objects_of_little_overlap(digits):
    scenes = make_detection_scenes(*digits, count=200, seed=0, **SETTINGS)
    per_scene = np.bincount(scenes.image, minlength=200)
    assert per_scene.min() >= 1 and per_scene.max() <= 6
    assert len(set(per_scene)) == 6  # every count from 1 to 6 occurs
    corners = _corners(scenes.boxes)
    assert corners.min() >= 0 and corners.max() <= SIZE
    longer = np.maximum(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    assert longer.max() <= round(0.4 * SIZE)
    for scene in range(200):
        boxes = corners[scenes.image == scene]
        for i in range(len(boxes)):
            for j in range(i):
                low, high = np.maximum(boxes[i, :2], boxes[j, :2]), np.minimum(boxes[i, 2:], boxes[j, 2:])
                overlap = np.prod(np.clip(high - low, 0, None))
                union = np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(boxes[j, 2:] - boxes[j, :2]) - overlap
                assert overlap / union <= 0.1


def test_ink_lies_only_inside_the_boxes(digits, monkeypatch):
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    background = np.stack([x * 2, y * 2, x + y], -1).astype(np.uint8)
    monkeypatch.setattr(module, "random_background", lambda rng, size: background.copy())
    scenes = make_detection_scenes(*digits, count=40, seed=1, **SETTINGS)
    for scene, image in enumerate(scenes.images):
        inside = np.zeros((SIZE, SIZE), dtype=bool)
        for x0, y0, x1, y1 in _corners(scenes.boxes[scenes.image == scene]):
            inside[y0:y1, x0:x1] = True
            assert (image[y0:y1, x0:x1] != background[y0:y1, x0:x1]).any()  # each box holds ink
        assert not (image != background).any(axis=2)[~inside].any()


def test_scenes_come_from_the_pool_given_and_the_seed(digits):
    images, labels = digits
    sevens = images[labels == 7]
    scenes = make_detection_scenes(sevens, np.full(len(sevens), 7), count=20, seed=2, **SETTINGS)
    assert set(scenes.labels) == {7}
    again = make_detection_scenes(sevens, np.full(len(sevens), 7), count=20, seed=2, **SETTINGS)
    for field in ("images", "image", "labels", "boxes"):
        np.testing.assert_array_equal(getattr(scenes, field), getattr(again, field))
