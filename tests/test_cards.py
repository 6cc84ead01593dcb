import cv2
import numpy as np
import pytest

from dlpipe.data import cards as cards_module
from dlpipe.data.cards import CORNER_NAMES, MARGIN, MIRROR_PAIRS, make_cards

SIZE = 96
LUMA = np.array([0.299, 0.587, 0.114])
QUADRANT_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)  # TL TR BR BL


def black(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.zeros((size, size, 3), np.uint8)


def signed_area(points: np.ndarray) -> np.ndarray:
    """Shoelace area of N polygons (N×K×2); positive when clockwise on screen (y down)."""
    x, y = points[..., 0], points[..., 1]
    return 0.5 * (x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1)


@pytest.fixture(scope="module")
def cards():
    return make_cards(count=200, image_size=64, seed=0)


def test_cards_are_images_with_four_points_each(cards):
    assert cards.images.shape == (200, 64, 64, 3) and cards.images.dtype == np.uint8
    assert cards.points.shape == (200, 4, 2) and cards.points.dtype == np.float32
    assert CORNER_NAMES == ("top_left", "top_right", "bottom_right", "bottom_left")


def test_every_corner_lies_inside_the_image_with_the_margin(cards):
    assert cards.points.min() >= MARGIN - 1e-6
    assert cards.points.max() <= 1 - MARGIN + 1e-6


def test_corners_run_clockwise_with_the_top_edge_on_top(cards):
    points = cards.points
    assert (signed_area(points) > 0).all()
    top_y = points[:, [0, 1], 1].mean(axis=1)
    bottom_y = points[:, [2, 3], 1].mean(axis=1)
    assert (top_y < bottom_y).all()  # rotations stay within ±30°
    assert (points[:, 0, 0] < points[:, 1, 0]).all() and (points[:, 3, 0] < points[:, 2, 0]).all()


def test_each_point_is_the_corner_of_the_card_face_it_names(monkeypatch):
    def quadrants(rng, width, height):
        face = np.empty((height, width, 3), np.uint8)
        top, left = slice(None, height // 2), slice(None, width // 2)
        bottom, right = slice(height // 2, None), slice(width // 2, None)
        for colour, (rows, cols) in zip(
            QUADRANT_COLOURS, [(top, left), (top, right), (bottom, right), (bottom, left)], strict=True
        ):
            face[rows, cols] = colour
        return face

    monkeypatch.setattr(cards_module, "_card_face", quadrants)
    monkeypatch.setattr(cards_module, "random_background", black)
    cards = make_cards(count=30, image_size=SIZE, seed=1)
    for image, points in zip(cards.images, cards.points, strict=True):
        pixels = points * SIZE
        centre = pixels.mean(axis=0)
        for k, corner in enumerate(pixels):
            x, y = corner + 0.25 * (centre - corner)  # a quarter of the way in: deep in corner k's quadrant
            np.testing.assert_array_equal(image[int(y), int(x)], QUADRANT_COLOURS[k])


def test_the_card_covers_exactly_the_polygon_of_its_points(monkeypatch):
    paper = lambda rng, width, height: np.full((height, width, 3), 200, np.uint8)  # noqa: E731
    monkeypatch.setattr(cards_module, "_card_face", paper)
    monkeypatch.setattr(cards_module, "random_background", black)
    cards = make_cards(count=30, image_size=SIZE, seed=2)
    for image, points in zip(cards.images, cards.points, strict=True):
        pixels = points * SIZE
        centre = pixels.mean(axis=0)
        inner, outer = (np.zeros((SIZE, SIZE), np.uint8) for _ in range(2))
        # polygons in cv2's pixel-centre coordinates, 4 bits of sub-pixel precision
        for mask, scale in ((inner, 0.92), (outer, 1.08)):
            polygon = (centre + scale * (pixels - centre) - 0.5) * 16
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        card = image.any(axis=2)
        assert card[inner == 1].all()
        assert not card[outer == 0].any()


def test_the_header_band_marks_the_card_top():
    cards = make_cards(count=40, image_size=SIZE, seed=3)
    face = np.float32([[0, 0], [100, 0], [100, 100], [0, 100]])
    for image, points in zip(cards.images, cards.points, strict=True):
        # rectify the card back to a 100×100 face (cv2 pixel centres at integers)
        corners = (points * SIZE - 0.5).astype(np.float32)
        flat = cv2.warpPerspective(image, cv2.getPerspectiveTransform(corners, face - 0.5), (100, 100))
        luma = flat.astype(float) @ LUMA
        header, paper = luma[4:9, 20:80].mean(), luma[91:95, 20:80].mean()
        assert header < paper - 40  # dark band on top, light paper at the bottom edge


def test_same_seed_gives_the_same_bytes_and_another_seed_others():
    first = make_cards(count=10, image_size=64, seed=7)
    again = make_cards(count=10, image_size=64, seed=7)
    other = make_cards(count=10, image_size=64, seed=8)
    assert first.images.tobytes() == again.images.tobytes()
    assert first.points.tobytes() == again.points.tobytes()
    assert first.images.tobytes() != other.images.tobytes()
    assert first.points.tobytes() != other.points.tobytes()


def test_mirror_pairs_keep_the_order_meaningful_after_a_horizontal_mirror(cards):
    assert MIRROR_PAIRS == ((0, 1), (2, 3))
    mirrored = cards.points.copy()
    mirrored[..., 0] = 1 - mirrored[..., 0]
    swapped = mirrored[:, [1, 0, 3, 2]]
    assert (signed_area(mirrored) < 0).all()  # mirroring alone turns the order anticlockwise
    assert (signed_area(swapped) > 0).all()  # the swapped pairs restore it
    assert (swapped[:, 0, 0] < swapped[:, 1, 0]).all()
