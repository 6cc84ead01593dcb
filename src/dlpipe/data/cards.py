"""Landmark data: the four corners of a card on a cluttered background (a document scanner).

The course's landmark task regresses K named points. A document scanner needs
exactly four — the card's corners — and their ORDER carries meaning: the card's
own top-left must stay the top-left however the card is turned, or the scanner's
rectification would mirror or rotate the page. So the card has content that
shows which way is up (a dark header band along its top edge, text lines below,
sometimes a photo patch at the left), and the points are given in a fixed order.

Point convention: ``(x, y)`` normalised by the image width and height in
continuous coordinates (0 is the left/top edge of the first pixel, 1 the
right/bottom edge of the last), so a mirror maps x to 1 − x exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dlpipe.data.textures import random_background

CORNER_NAMES = ("top_left", "top_right", "bottom_right", "bottom_left")
# A horizontal mirror turns the card's top-left into the image's top-right: after
# mirroring, point 0 must be the old point 1 and point 2 the old point 3.
MIRROR_PAIRS = ((0, 1), (2, 3))

SCALE = (0.40, 0.85)  # the card's longer side, as a share of the image side
ROTATION = 30.0  # degrees, uniform in ±ROTATION
ASPECT = (1.3, 1.7)  # longer side / shorter side
JITTER = 0.08  # perspective: each corner moves up to this share of the shorter side
MARGIN = 0.05  # every corner stays this share of the image side inside the image


@dataclass
class Cards:
    images: np.ndarray  # uint8 N×S×S×3
    points: np.ndarray  # float32 N×4×2: (x, y) in [0, 1], in CORNER_NAMES order


def _card_face(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """The card's own picture, uint8 height×width×3: a dark header band on top, text lines (and
    sometimes a photo) below it, a blank paper margin along the bottom: the face shows which edge is up."""
    paper = rng.uniform(205.0, 250.0) + rng.uniform(-8.0, 8.0, 3)
    face = np.empty((height, width, 3), dtype=np.float64)
    face[:] = paper
    ink = rng.uniform(10.0, 90.0, 3)
    band = max(2, round(height * rng.uniform(0.12, 0.2)))
    face[:band] = rng.uniform(20.0, 140.0, 3)  # the header: which edge is the top
    pad = max(1, round(0.06 * width))
    bottom = height - max(pad, round(0.12 * height))  # a blank paper margin along the bottom edge
    left = pad
    if rng.random() < 0.5 and width > 8 * pad:
        photo_w = round(width * rng.uniform(0.22, 0.32))
        photo_h = min(bottom - band - pad, round(photo_w * 1.25))
        if photo_h > 1:
            photo = random_background(rng, max(photo_w, photo_h))[:photo_h, :photo_w]
            face[band + pad : band + pad + photo_h, pad : pad + photo_w] = photo
            left = 2 * pad + photo_w
    line = max(1, round(height * 0.05))
    y = band + pad
    while y + line <= bottom:
        length = round((width - pad - left) * rng.uniform(0.4, 1.0))
        face[y : y + line, left : left + length] = ink
        y += round(line * rng.uniform(2.2, 3.2))
    return np.clip(np.round(face), 0, 255).astype(np.uint8)


def _corners(
    rng: np.random.Generator, size: int, long_side: float, short_side: float, landscape: bool
) -> np.ndarray:
    """The card's corners in image pixels (continuous), TL, TR, BR, BL of the card itself."""
    width, height = (long_side, short_side) if landscape else (short_side, long_side)
    half = np.array([[-width, -height], [width, -height], [width, height], [-width, height]]) / 2
    angle = np.deg2rad(rng.uniform(-ROTATION, ROTATION))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = half @ rotation.T + rng.uniform(-JITTER, JITTER, (4, 2)) * short_side
    room = size * (1 - 2 * MARGIN)
    extent = corners.max(axis=0) - corners.min(axis=0)
    corners *= min(1.0, room / extent.max())  # shrink a card that would not fit
    low = size * MARGIN - corners.min(axis=0)
    high = size * (1 - MARGIN) - corners.max(axis=0)
    return corners + low + rng.random(2) * np.maximum(high - low, 0.0)


def make_cards(count: int, image_size: int, seed: int) -> Cards:
    """``count`` images of ``image_size``² showing one card each, with its corners.

    The card (longer side ``U(SCALE) · S``, aspect ``U(ASPECT)``, portrait or landscape)
    is rotated by ``U(±ROTATION)``, each corner jittered by up to ``JITTER`` of its
    shorter side (perspective), shrunk if needed and placed so every corner lies at
    least ``MARGIN · S`` inside the image. Its face is warped there by the homography
    H with ``H · corner_k = point_k`` (``cv2.getPerspectiveTransform``), composited
    with an anti-aliased mask. Points are ``point_k / S``; the polygon
    TL → TR → BR → BL runs clockwise on screen (positive shoelace area with y down).
    """
    rng = np.random.default_rng(seed)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    points = np.empty((count, 4, 2), dtype=np.float32)
    # cv2 puts pixel centres at integers: continuous = cv2 + 0.5 on both sides of the warp.
    to_cv = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    from_cv = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    for i in range(count):
        background = random_background(rng, image_size)
        long_side = rng.uniform(*SCALE) * image_size
        short_side = long_side / rng.uniform(*ASPECT)
        landscape = bool(rng.random() < 0.5)
        corners = _corners(rng, image_size, long_side, short_side, landscape)
        face_w, face_h = (long_side, short_side) if landscape else (short_side, long_side)
        face_w, face_h = max(2, round(face_w)), max(2, round(face_h))
        face = _card_face(rng, face_w, face_h)
        source = np.array([[0, 0], [face_w, 0], [face_w, face_h], [0, face_h]], dtype=np.float32)
        homography = cv2.getPerspectiveTransform(source, corners.astype(np.float32)).astype(np.float64)
        warp = to_cv @ homography @ from_cv
        shape = (image_size, image_size)
        card = cv2.warpPerspective(face, warp, shape, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpPerspective(
            np.ones((face_h, face_w), np.float32), warp, shape, flags=cv2.INTER_LINEAR, borderValue=0.0
        )[..., None]
        mixed = background * (1.0 - mask) + card * mask
        images[i] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
        points[i] = corners / image_size
    return Cards(images, points)
