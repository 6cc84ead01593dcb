"""Landmark data: ``{x, points, point_names}`` per split.

x is uint8 N×S×S×3; points float32 N×K×2, (x, y) normalised by the image width
and height, in a fixed order that ``point_names`` names. The network's target is
the flat row (x_1, y_1, ..., x_K, y_K).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.config import LandmarksData, Params
from dlpipe.errors import ConfigError
from dlpipe.tasks.landmarks.drawing import draw_points


def _random_split(count: int, settings: LandmarksData) -> dict[str, np.ndarray]:
    """Seeded 6:2:2 shuffle split (no classes to stratify by)."""
    order = np.random.default_rng(settings.seed).permutation(count)
    n_test = round(count * settings.ratios.test)
    n_val = round(count * settings.ratios.val)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def split(settings: LandmarksData) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    if settings.source == "cards":
        from dlpipe.data.cards import CORNER_NAMES, make_cards

        cards = make_cards(settings.images, settings.image_size, settings.seed)
        images, points, point_names = cards.images, cards.points, list(CORNER_NAMES)
    else:
        from dlpipe.data.labels import read_points

        images, points = read_points(Path(settings.path or ""), settings.image_size)
        point_names = [f"p{k + 1}" for k in range(points.shape[1])]
    indices = _random_split(len(images), settings)
    names_array = np.array(point_names)
    arrays = {
        name: {"x": images[idx], "points": points[idx], "point_names": names_array}
        for name, idx in indices.items()
    }
    return arrays, {"source": settings.source, "points": len(point_names)}


def mirror_pairs(pairs: list[list[int]], count: int) -> list[tuple[int, int]]:
    """``landmarks.augment.mirror_pairs`` (1-based point numbers) as 0-based index pairs."""
    for pair in pairs:
        if any(not 1 <= k <= count for k in pair):
            raise ConfigError(
                f"landmarks.augment.mirror_pairs names point {pair} of {count} points (numbered from 1)"
            )
    return [(a - 1, b - 1) for a, b in pairs]


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``landmarks.augment.copies`` copies; the points move with the
    pixels and a mirror swaps each of ``landmarks.augment.mirror_pairs`` so the order keeps its meaning."""
    from dlpipe.data.augment import augment_points

    count = train["points"].shape[1]
    pairs = mirror_pairs(params.landmarks.augment.mirror_pairs, count)
    images, points = augment_points(train["x"], train["points"], params.landmarks.augment, pairs)
    return {
        "x": np.concatenate([train["x"], images]),
        "points": np.concatenate([train["points"], points]).astype(np.float32),
        "point_names": train["point_names"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack(
        [draw_points(image, points) for image, points in zip(arrays["x"], arrays["points"], strict=True)]
    )
