"""Where images come from: built-in datasets or a folder of class sub-folders.

Every source returns the same thing, an :class:`ImageSet` of uint8 images in
N×H×W×C layout at ``image_size``, so the rest of the pipeline never cares
where the pixels came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dlpipe.config import DataParams
from dlpipe.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


@dataclass
class ImageSet:
    images: np.ndarray  # uint8, N×H×W×C
    labels: np.ndarray  # int64, N
    class_names: list[str]
    skipped: list[str] = field(default_factory=list)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of uint8 N×H×W×C images to size×size."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        for c in range(images.shape[3]):
            plane = Image.fromarray(image[:, :, c])
            out[i, :, :, c] = np.asarray(plane.resize((size, size), Image.Resampling.BILINEAR))
    return out


def _with_channels(images: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(images, 3, axis=3) if channels == 3 and images.shape[3] == 1 else images


def load_digits(params: DataParams) -> ImageSet:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    channels = 3 if params.channels == 3 else 1
    images = _with_channels(_resize(images, params.image_size), channels)
    return ImageSet(images, bunch.target.astype(np.int64), [str(n) for n in bunch.target_names])


def load_faces(params: DataParams) -> ImageSet:
    """scikit-image's bundled ``lfw_subset``: 100 faces then 100 non-faces, 25×25 grey."""
    from skimage.data import lfw_subset

    raw = lfw_subset()
    images = np.round(np.clip(raw, 0.0, 1.0) * 255.0).astype(np.uint8)[..., None]
    labels = np.array([1] * 100 + [0] * (len(raw) - 100), dtype=np.int64)
    channels = 3 if params.channels == 3 else 1
    images = _with_channels(_resize(images, params.image_size), channels)
    return ImageSet(images, labels, ["non_face", "face"])


def read_image(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def image_array(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """One image as uint8 size×size×channels: grey or RGB, bilinear resize, as the split stores it."""
    mode = "L" if channels == 1 else "RGB"
    return np.asarray(image.convert(mode).resize((size, size), Image.Resampling.BILINEAR)).reshape(
        size, size, channels
    )


def load_imagefolder(params: DataParams) -> ImageSet:
    """``data.path/<class>/<image>``: PNG or JPEG of any size, grey or colour."""
    root = Path(params.path or "")
    if not root.is_dir():
        raise DataError(f"{root}: data.path is not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataError(f"{root}: needs at least two class sub-folders (found {len(class_dirs)})")

    loaded: list[tuple[Image.Image, int]] = []
    skipped: list[str] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{class_dir}: class folder holds no PNG or JPEG images")
        for file in files:
            try:
                loaded.append((read_image(file), label))
            except (UnidentifiedImageError, OSError) as exc:
                if params.on_bad_image == "error":
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise DataError(f"{file}: cannot read image ({reason})") from None
                skipped.append(str(file))

    if params.channels == "auto":
        channels = 1 if all(image.mode in _GREY_MODES for image, _ in loaded) else 3
    else:
        channels = params.channels
    images = np.stack([image_array(image, params.image_size, channels) for image, _ in loaded])
    labels = np.array([label for _, label in loaded], dtype=np.int64)
    return ImageSet(images, labels, [d.name for d in class_dirs], skipped)


LOADERS = {"digits": load_digits, "faces": load_faces, "imagefolder": load_imagefolder}


def load_source(params: DataParams) -> ImageSet:
    return LOADERS[params.source](params)
