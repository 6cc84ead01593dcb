"""Scenes for classification with localisation: one digit, or none, on a textured background.

The course's localisation task asks a network for three things at once: is there
an object (``present``), which class (``labels``), and where (``boxes``). These
scenes make that task from data that ships offline: a handwritten digit from
scikit-learn, scaled up and inked onto a crop of a natural texture.

Box convention (YOLO): ``(cx, cy, w, h)`` normalised by the image side, in
continuous coordinates where 0 is the left/top edge of the first pixel and 1 the
right/bottom edge of the last, so pixel column ``i`` spans ``[i/S, (i+1)/S]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dlpipe.config import Ratios
from dlpipe.data.textures import random_background
from dlpipe.errors import DataError

# A digit's longer side, as a share of the image side.
SIDE_SHARE = (0.3, 0.7)
# Ink below this intensity is cut to zero, so the ink ends exactly at the box.
INK_THRESHOLD = 0.25
# Least luminance distance between the ink and the mean of the background under it.
MIN_CONTRAST = 100.0
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass
class Scenes:
    images: np.ndarray  # uint8 N×S×S×3
    present: np.ndarray  # int64 N: 1 one object, 0 background only
    labels: np.ndarray  # int64 N: the digit's class, 0 where absent
    boxes: np.ndarray  # float32 N×4: (cx, cy, w, h) normalised, zeros where absent


def scene_class_names() -> list[str]:
    return [str(digit) for digit in range(10)]


@dataclass
class DigitPool:
    """One split's share of scikit-learn's digits, and what to make of it."""

    split: str
    images: np.ndarray
    labels: np.ndarray
    scenes: int  # how many scenes this split gets
    seed: int


def digit_pools(images: int, ratios: Ratios, seed: int) -> list[DigitPool]:
    """The digits split 6:2:2 (stratified) before any scene is made, so no test scene shows a
    digit image that a training scene showed; ``images`` scenes shared by the ratios."""
    from sklearn.datasets import load_digits

    from dlpipe.data.split import stratified_split

    digits = load_digits()
    split = stratified_split(digits.target, ratios, seed)
    shares = ratios.model_dump()
    return [
        DigitPool(
            name, digits.images[idx], digits.target[idx], max(1, round(images * shares[name])), seed + offset
        )
        for offset, (name, idx) in enumerate(split.indices.items())
    ]


def intensity(digits: np.ndarray) -> np.ndarray:
    """Digits as float intensity in [0, 1]: uint8 / 255, anything else / 16 (sklearn's scale)."""
    digits = np.asarray(digits)
    if digits.ndim != 3 or len(digits) == 0:
        raise DataError(f"digits: expected a non-empty M×h×w array (got shape {digits.shape})")
    scale = 255.0 if digits.dtype == np.uint8 else 16.0
    return np.clip(digits.astype(np.float64) / scale, 0.0, 1.0)


def _ink_colour(rng: np.random.Generator, background_luma: float) -> np.ndarray:
    """A random RGB colour whose luminance is at least MIN_CONTRAST away from the background's.

    Dark ink ``c · k`` on light backgrounds (luminance ≤ k ≤ L − MIN_CONTRAST), light ink
    ``255 − (1 − c) · k`` on dark ones (luminance ≥ 255 − k ≥ L + MIN_CONTRAST), with c a
    uniform random hue in [0, 1]³.
    """
    hue = rng.uniform(0.0, 1.0, 3)
    if background_luma >= 127.5:
        return hue * rng.uniform(0.0, background_luma - MIN_CONTRAST)
    return 255.0 - (1.0 - hue) * rng.uniform(0.0, 255.0 - background_luma - MIN_CONTRAST)


def alpha_mask(digit: np.ndarray, side: int) -> np.ndarray:
    """The digit scaled (aspect kept) so its longer side is ``side``, ink below INK_THRESHOLD cut to 0."""
    height, width = digit.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    alpha = np.clip(cv2.resize(digit, size, interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    alpha[alpha <= INK_THRESHOLD] = 0.0
    return alpha


def make_scenes(
    digits: np.ndarray,
    labels: np.ndarray,
    count: int,
    image_size: int,
    empty_share: float,
    seed: int,
) -> Scenes:
    """``count`` scenes of ``image_size``², ``round(count · empty_share)`` of them background only.

    Each scene: a random background; unless empty, one of ``digits`` (uniformly drawn,
    so a caller gives train/val/test disjoint digit images) upscaled bicubically to a
    longer side of ``U(SIDE_SHARE) · image_size`` pixels, at a uniform position fully
    inside the image, composited as ink::

        pixel = background · (1 − α) + ink · α,   α = intensity where > INK_THRESHOLD, else 0

    so every pixel outside the box equals the background, and the box is the tight
    box of α > 0. Which scenes are empty is a seeded permutation, so the share is exact.
    """
    ink_levels = intensity(digits)
    labels = np.asarray(labels)
    if len(labels) != len(ink_levels):
        raise DataError(f"digits: {len(ink_levels)} images but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    empty = round(count * empty_share)
    present = rng.permutation(np.r_[np.zeros(empty, np.int64), np.ones(count - empty, np.int64)])

    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    out_labels = np.zeros(count, dtype=np.int64)
    boxes = np.zeros((count, 4), dtype=np.float32)
    low, high = (max(1, round(share * image_size)) for share in SIDE_SHARE)
    for i in range(count):
        background = random_background(rng, image_size)
        if not present[i]:
            images[i] = background
            continue
        index = int(rng.integers(len(ink_levels)))
        alpha = alpha_mask(ink_levels[index], int(rng.integers(low, high + 1)))
        if not alpha.any():
            raise DataError(f"digits: image {index} has no ink above {INK_THRESHOLD:g}")
        height, width = alpha.shape
        top = int(rng.integers(image_size - height + 1))
        left = int(rng.integers(image_size - width + 1))
        x0, y0, x1, y1 = ink(rng, background, alpha, top, left)
        images[i] = background
        boxes[i] = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / image_size
        out_labels[i] = labels[index]
    return Scenes(images, present, out_labels, boxes)


def ink(
    rng: np.random.Generator, canvas: np.ndarray, alpha: np.ndarray, top: int, left: int
) -> tuple[int, ...]:
    """Ink ``alpha`` onto ``canvas`` (in place) with its top-left corner at (top, left), in a random
    colour that contrasts with the mean under it; returns the tight box (x0, y0, x1, y1) of
    α > 0 in pixels, x1 and y1 exclusive."""
    height, width = alpha.shape
    region = canvas[top : top + height, left : left + width].astype(np.float64)
    colour = _ink_colour(rng, float(region.reshape(-1, 3).mean(axis=0) @ _LUMA))
    mixed = region * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    canvas[top : top + height, left : left + width] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    rows, cols = np.nonzero(alpha)
    return left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1
