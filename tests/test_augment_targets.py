import numpy as np
import pytest
from sklearn.datasets import load_digits

from conftest import shipped
from dlpipe.config import AugmentParams
from dlpipe.data.augment import MIN_VISIBLE_SHARE, augment_boxes, augment_points, mirror_permutation
from dlpipe.data.cards import MIRROR_PAIRS, make_cards
from dlpipe.data.scenes import make_scenes
from dlpipe.errors import DataError

SIZE = 48
OFF = {"hflip": {"p": 0.0}, "crop": {"p": 0.0}, "rotate": {"p": 0.0}}


def settings(**sections) -> AugmentParams:
    return shipped("augment", **{**OFF, **sections})


@pytest.fixture(scope="module")
def scenes():
    bunch = load_digits()
    return make_scenes(bunch.images, bunch.target, count=24, image_size=SIZE, empty_share=0.25, seed=0)


@pytest.fixture(scope="module")
def cards():
    return make_cards(count=12, image_size=SIZE, seed=0)


def _boxed(scenes):
    return scenes.images, scenes.present, scenes.labels, scenes.boxes


def _crop_offset(copy: np.ndarray, original: np.ndarray, pad: int) -> tuple[int, int]:
    """Where the padded random crop took ``copy`` from: the one (dx, dy) the pixels agree on."""
    padded = np.pad(original, ((pad, pad), (pad, pad), (0, 0)))
    size = original.shape[0]
    found = [
        (pad - left, pad - top)
        for top in range(2 * pad + 1)
        for left in range(2 * pad + 1)
        if np.array_equal(padded[top : top + size, left : left + size], copy)
    ]
    assert len(found) == 1
    return found[0]


def test_copies_come_copy_major_and_unchanged_when_every_transform_is_off(scenes, cards):
    params = settings(copies=2)
    images, present, labels, boxes = augment_boxes(*_boxed(scenes), params)
    np.testing.assert_array_equal(images, np.concatenate([scenes.images] * 2))
    np.testing.assert_array_equal(present, np.tile(scenes.present, 2))
    np.testing.assert_array_equal(labels, np.tile(scenes.labels, 2))
    np.testing.assert_allclose(boxes, np.tile(scenes.boxes, (2, 1)), atol=1e-6)
    images, points = augment_points(cards.images, cards.points, params, MIRROR_PAIRS)
    np.testing.assert_array_equal(images, np.concatenate([cards.images] * 2))
    np.testing.assert_allclose(points, np.concatenate([cards.points] * 2), atol=1e-6)


def test_a_mirror_flips_the_box_centre(scenes):
    params = settings(hflip={"p": 1.0})
    images, present, labels, boxes = augment_boxes(*_boxed(scenes), params)
    np.testing.assert_array_equal(images, scenes.images[:, :, ::-1])
    np.testing.assert_array_equal(present, scenes.present)
    np.testing.assert_array_equal(labels, scenes.labels)
    expected = scenes.boxes.copy()
    expected[scenes.present == 1, 0] = 1 - expected[scenes.present == 1, 0]
    np.testing.assert_allclose(boxes, expected, atol=1e-6)


def test_a_mirrored_copy_has_the_mirrored_points_with_pairs_swapped(cards):
    params = settings(copies=3, hflip={"p": 0.5})
    images, points = augment_points(cards.images, cards.points, params, MIRROR_PAIRS)
    mirrored = cards.points[:, [1, 0, 3, 2]].copy()
    mirrored[..., 0] = 1 - mirrored[..., 0]
    flips = 0
    for j, (image, copy) in enumerate(zip(images, points, strict=True)):
        i = j % len(cards.images)
        if np.array_equal(image, cards.images[i, :, ::-1]):
            np.testing.assert_allclose(copy, mirrored[i], atol=1e-4)
            flips += 1
        else:
            np.testing.assert_array_equal(image, cards.images[i])
            np.testing.assert_allclose(copy, cards.points[i], atol=1e-4)
    assert 0 < flips < len(images)


def test_mirror_permutation_swaps_each_pair_and_keeps_the_rest():
    np.testing.assert_array_equal(mirror_permutation(MIRROR_PAIRS, 4), [1, 0, 3, 2])
    np.testing.assert_array_equal(mirror_permutation([(0, 2)], 5), [2, 1, 0, 3, 4])


def test_mirror_pairs_that_reuse_a_point_or_name_a_missing_one_are_one_line_errors():
    with pytest.raises(DataError) as exc:
        mirror_permutation([(0, 1), (1, 2)], 4)
    assert str(exc.value) == "mirror_pairs: point 1 appears in more than one pair"
    with pytest.raises(DataError) as exc:
        mirror_permutation([(0, 4)], 4)
    assert str(exc.value) == "mirror_pairs: (0, 4) names point 4, not one of 0..3"


def test_a_shifted_crop_moves_box_and_points_by_the_same_pixels(scenes, cards):
    pad = 4
    params = settings(copies=2, crop={"p": 1.0, "padding": pad})
    images, present, labels, boxes = augment_boxes(*_boxed(scenes), params)
    moved = 0
    for j, image in enumerate(images):
        i = j % len(scenes.images)
        dx, dy = _crop_offset(image, scenes.images[i], pad)
        cx, cy, w, h = scenes.boxes[i] * SIZE
        inside = min(cx - w / 2 + dx, cy - h / 2 + dy) >= 0 and max(cx + w / 2 + dx, cy + h / 2 + dy) <= SIZE
        if scenes.present[i] and inside:
            np.testing.assert_allclose(boxes[j] * SIZE, [cx + dx, cy + dy, w, h], atol=1e-4)
            assert labels[j] == scenes.labels[i]
            moved += (dx, dy) != (0, 0)
    assert moved > 10
    images, points = augment_points(cards.images, cards.points, params, MIRROR_PAIRS)
    for j, image in enumerate(images):
        i = j % len(cards.images)
        dx, dy = _crop_offset(image, cards.images[i], pad)
        np.testing.assert_allclose(points[j] * SIZE, cards.points[i] * SIZE + [dx, dy], atol=1e-4)


def test_a_box_pushed_out_is_clipped_or_the_copy_marked_absent():
    image = np.random.default_rng(0).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)
    box = np.array([[2.5 / SIZE, 0.5, 5 / SIZE, 0.25]], np.float32)  # 5 px wide, touching the left edge
    params = settings(copies=40, crop={"p": 1.0, "padding": 8})
    images, present, labels, boxes = augment_boxes(image, np.array([1]), np.array([7]), box, params)
    kept = present == 1
    assert 0 < kept.sum() < 40
    assert (labels[~kept] == 0).all() and (boxes[~kept] == 0).all()
    assert (labels[kept] == 7).all()
    left, right = boxes[kept, 0] - boxes[kept, 2] / 2, boxes[kept, 0] + boxes[kept, 2] / 2
    assert left.min() >= -1e-6 and right.max() <= 1 + 1e-6
    assert (boxes[kept, 2] * SIZE >= MIN_VISIBLE_SHARE * 5 - 1e-4).all()
    clipped = boxes[kept, 2] * SIZE < 5 - 1e-4
    assert clipped.any()  # some copies keep a clipped part of the box
    assert np.allclose(left[clipped], 0, atol=1e-6)


def test_a_rotated_point_follows_the_rotated_pixels():
    y, x = np.mgrid[0:SIZE, 0:SIZE] + 0.5  # pixel centres, continuous coordinates
    spot = (12.3, 30.8)
    blob = 255 * np.exp(-((x - spot[0]) ** 2 + (y - spot[1]) ** 2) / (2 * 2.0**2))
    image = np.repeat(np.round(blob).astype(np.uint8)[None, ..., None], 3, axis=3)
    points = np.array([[[spot[0] / SIZE, spot[1] / SIZE]]], np.float32)
    params = settings(copies=6, rotate={"p": 1.0, "limit": 40})
    images, moved = augment_points(image, points, params, ())
    for copy, point in zip(images, moved, strict=True):
        weight = copy[..., 0].astype(float)
        centroid = np.array([(weight * x).sum(), (weight * y).sum()]) / weight.sum()
        np.testing.assert_allclose(point[0] * SIZE, centroid, atol=0.03)  # a 0.5 px convention slip: 0.1-0.4


def test_same_settings_give_the_same_bytes_and_another_seed_others(scenes, cards):
    def run(seed: int) -> bytes:
        params = settings(copies=2, seed=seed, hflip={"p": 0.5}, crop={"p": 0.5}, rotate={"p": 0.5})
        boxed = augment_boxes(*_boxed(scenes), params)
        pointed = augment_points(cards.images, cards.points, params, MIRROR_PAIRS)
        return b"".join(array.tobytes() for array in (*boxed, *pointed))

    first = run(1)
    assert run(1) == first
    assert run(2) != first
