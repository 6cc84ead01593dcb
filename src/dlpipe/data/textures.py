"""Background textures for generated scenes and cards, cut from images that ship offline.

A detector trained on flat backgrounds learns "anything not flat is the object";
natural clutter (brick, grass, gravel, a cat, a flower...) forces it to learn the
object's shape instead. Every source is an image that scikit-learn or
scikit-image installs with the package, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# scikit-image's bundled images (skimage/data/*.png|jpg) and scikit-learn's sample
# JPEGs. Grey ones (brick, grass, gravel) are stacked to RGB. Images with text or
# letters in them (text, page) are left out: they would look like digits.
SKIMAGE_SOURCES = (
    "brick",
    "grass",
    "gravel",
    "coffee",
    "chelsea",
    "astronaut",
    "rocket",
    "immunohistochemistry",
)
SKLEARN_SOURCES = ("china.jpg", "flower.jpg")

# A crop's side, as a share of the source's shorter side: small crops give fine
# texture, large ones whole objects.
CROP_SHARE = (0.15, 0.6)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 H×W×3: grey stacked to three planes, an alpha plane dropped."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


@functools.cache
def _loaded() -> tuple[np.ndarray, ...]:
    import skimage.data

    images = [_as_rgb(getattr(skimage.data, name)()) for name in SKIMAGE_SOURCES]
    # The files sklearn.datasets.load_sample_image reads, opened the same way (PIL)
    # without importing sklearn.datasets, which alone takes over a second.
    spec = importlib.util.find_spec("sklearn")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images"
    for name in SKLEARN_SOURCES:
        with Image.open(folder / name) as image:
            images.append(_as_rgb(np.asarray(image.convert("RGB"))))
    for image in images:
        image.flags.writeable = False  # shared by every caller through the cache
    return tuple(images)


def texture_sources() -> list[np.ndarray]:
    """The source images, uint8 H×W×3, read once per process (read-only arrays)."""
    return list(_loaded())


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A uint8 size×size×3 background: a random square crop of a random source.

    The crop's side is ``U(CROP_SHARE) × min(H, W)`` of the source (at least
    ``size`` pixels where the source allows, so a background is never a blown-up
    blur), at a uniform position, mirrored with probability 1/2, then resized to
    size×size with ``cv2.INTER_AREA`` (area averaging: no aliasing when shrinking).
    A pure function of the generator's state.
    """
    sources = _loaded()
    source = sources[int(rng.integers(len(sources)))]
    height, width = source.shape[:2]
    shorter = min(height, width)
    side = int(round(rng.uniform(*CROP_SHARE) * shorter))
    side = min(max(side, size, 2), shorter)
    top = int(rng.integers(height - side + 1))
    left = int(rng.integers(width - side + 1))
    crop = source[top : top + side, left : left + side]
    if rng.random() < 0.5:
        # OpenCV reads a view of whole rows in place; cv2.flip mirrors one several times faster
        # than numpy copies a mirrored view. (Resizing first and mirroring after would differ in
        # a rounding now and then.)
        crop = cv2.flip(crop, 1)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
