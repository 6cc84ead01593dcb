import numpy as np
import pytest
from sklearn.datasets import load_digits

from dlpipe.data import scenes as scenes_module
from dlpipe.data.scenes import SIDE_SHARE, make_scenes, scene_class_names
from dlpipe.data.textures import random_background, texture_sources
from dlpipe.errors import DataError

SIZE = 48
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def digits():
    bunch = load_digits()
    return bunch.images, bunch.target


def _gradient(size: int) -> np.ndarray:
    """A fixed, position-dependent background, so "equals the background" is checkable."""
    y, x = np.mgrid[0:size, 0:size]
    return np.stack(
        [x * 255 // (size - 1), y * 255 // (size - 1), (x + y) * 255 // (2 * size - 2)], -1
    ).astype(np.uint8)


def test_texture_sources_are_read_only_rgb_images_from_both_libraries():
    sources = texture_sources()
    assert len(sources) == 10
    for source in sources:
        assert source.dtype == np.uint8 and source.ndim == 3 and source.shape[2] == 3
        assert not source.flags.writeable
    assert sources[0].shape == (512, 512, 3)  # brick, grey stacked to RGB
    assert (sources[0][..., 0] == sources[0][..., 2]).all()


def test_random_background_is_a_pure_function_of_the_generator():
    first = random_background(np.random.default_rng(3), 40)
    assert first.shape == (40, 40, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(random_background(np.random.default_rng(3), 40), first)
    assert not np.array_equal(random_background(np.random.default_rng(4), 40), first)


def test_box_encloses_exactly_the_ink(digits, monkeypatch):
    background = _gradient(SIZE)
    monkeypatch.setattr(scenes_module, "random_background", lambda rng, size: background.copy())
    scenes = make_scenes(*digits, count=60, image_size=SIZE, empty_share=0.2, seed=0)
    for image, present, box in zip(scenes.images, scenes.present, scenes.boxes, strict=True):
        changed = (image != background).any(axis=2)
        if not present:
            assert not changed.any()
            continue
        cx, cy, w, h = box * SIZE
        x0, x1, y0, y1 = (round(v) for v in (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2))
        inside = np.zeros_like(changed)
        inside[y0:y1, x0:x1] = True
        assert not changed[~inside].any()  # outside the box: background, pixel for pixel
        # ...and the ink touches all four sides of the box
        assert changed[y0, x0:x1].any() and changed[y1 - 1, x0:x1].any()
        assert changed[y0:y1, x0].any() and changed[y0:y1, x1 - 1].any()


def test_empty_scenes_have_exactly_the_share_asked_for_with_zero_label_and_box(digits):
    scenes = make_scenes(*digits, count=200, image_size=SIZE, empty_share=0.3, seed=1)
    assert scenes.images.shape == (200, SIZE, SIZE, 3) and scenes.images.dtype == np.uint8
    assert scenes.present.dtype == np.int64 and scenes.labels.dtype == np.int64
    assert scenes.boxes.dtype == np.float32 and scenes.boxes.shape == (200, 4)
    absent = scenes.present == 0
    assert absent.sum() == 60
    assert (scenes.labels[absent] == 0).all() and (scenes.boxes[absent] == 0).all()
    assert len(set(scenes.labels[~absent].tolist())) == 10


def test_boxes_lie_inside_the_image_at_the_digit_sizes_asked_for(digits):
    scenes = make_scenes(*digits, count=200, image_size=SIZE, empty_share=0.0, seed=2)
    cx, cy, w, h = scenes.boxes.T
    assert (cx - w / 2 >= 0).all() and (cx + w / 2 <= 1 + 1e-6).all()
    assert (cy - h / 2 >= 0).all() and (cy + h / 2 <= 1 + 1e-6).all()
    longer = np.maximum(w, h) * SIZE  # the ink's box: at most the scaled digit's side
    assert longer.max() <= round(SIDE_SHARE[1] * SIZE)
    assert longer.min() >= 0.6 * round(SIDE_SHARE[0] * SIZE)  # sklearn digits fill most of their 8×8


def test_same_seed_gives_the_same_bytes_and_another_seed_others(digits):
    first = make_scenes(*digits, count=20, image_size=SIZE, empty_share=0.25, seed=5)
    again = make_scenes(*digits, count=20, image_size=SIZE, empty_share=0.25, seed=5)
    other = make_scenes(*digits, count=20, image_size=SIZE, empty_share=0.25, seed=6)
    for name in ("images", "present", "labels", "boxes"):
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes()
    assert first.images.tobytes() != other.images.tobytes()


def test_digits_come_only_from_the_images_given(digits):
    images, target = digits
    threes = images[target == 3][:5]
    scenes = make_scenes(threes, np.full(5, 3), count=30, image_size=SIZE, empty_share=0.1, seed=0)
    assert set(scenes.labels[scenes.present == 1].tolist()) == {3}


def test_ink_contrasts_with_the_background_under_it(digits, monkeypatch):
    for grey in (30, 225):
        flat = np.full((SIZE, SIZE, 3), grey, np.uint8)
        monkeypatch.setattr(scenes_module, "random_background", lambda rng, size, flat=flat: flat.copy())
        scenes = make_scenes(*digits, count=20, image_size=SIZE, empty_share=0.0, seed=0)
        change = np.abs(scenes.images.astype(float) @ LUMA - grey).reshape(20, -1).max(axis=1)
        assert change.min() >= 0.9 * scenes_module.MIN_CONTRAST


def test_uint8_digits_of_any_shape_keep_their_aspect():
    bar = np.zeros((1, 10, 4), np.uint8)
    bar[0, :, 1:3] = 255  # a tall bar, 10 high, 2 wide: ink spans half the width
    scenes = make_scenes(bar, np.array([7]), count=10, image_size=SIZE, empty_share=0.0, seed=0)
    w, h = scenes.boxes[:, 2], scenes.boxes[:, 3]
    assert (scenes.labels == 7).all()
    np.testing.assert_allclose(w / h, 0.2, atol=0.12)


def test_class_names_are_the_ten_digits():
    assert scene_class_names() == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]


def test_digits_and_labels_of_different_lengths_are_one_line_error(digits):
    with pytest.raises(DataError) as exc:
        make_scenes(digits[0][:5], digits[1][:4], count=3, image_size=SIZE, empty_share=0.0, seed=0)
    assert str(exc.value) == "digits: 5 images but 4 labels"


def test_flat_digits_array_is_one_line_error():
    with pytest.raises(DataError) as exc:
        make_scenes(np.zeros((5, 64)), np.zeros(5), count=3, image_size=SIZE, empty_share=0.0, seed=0)
    assert str(exc.value) == "digits: expected a non-empty M×h×w array (got shape (5, 64))"
