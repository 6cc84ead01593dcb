"""Content and style images that ship with scikit-image and scikit-learn, so that style transfer
runs offline; a user's own file works the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from dlpipe.errors import DataError


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return read


def _sklearn(file: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file)

    return read


CONTENTS = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "china": _sklearn("china.jpg"),
}
STYLES = {
    "brick": _skimage("brick"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "flower": _sklearn("flower.jpg"),
    "hubble": _skimage("hubble_deep_field"),
    "ihc": _skimage("immunohistochemistry"),
}
BUILT_IN = {**CONTENTS, **STYLES}


def _read_file(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(f"image {path}: unreadable ({error.__class__.__name__})") from error


def load(name_or_path: str, size: int) -> torch.Tensor:
    """A built-in image by name, or an image file, as a 1x3xsize×size float tensor in [0, 1]: the
    centre square (no distortion), resized with Lanczos (no aliasing of fine texture)."""
    if name_or_path in BUILT_IN:
        pixels = BUILT_IN[name_or_path]()
    elif Path(name_or_path).is_file():
        pixels = _read_file(Path(name_or_path))
    else:
        raise DataError(
            f"image {name_or_path!r}: neither a built-in image ({', '.join(BUILT_IN)}) nor a file"
        )
    if pixels.ndim == 2:  # grey textures (brick, grass, gravel) become 3 equal channels
        pixels = np.stack([pixels] * 3, axis=-1)
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(pixels[top : top + side, left : left + side, :3])
    resized = np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
    return torch.from_numpy(resized / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()


def save(image: torch.Tensor, path: str | Path) -> None:
    """Write a 1x3xHxW (or 3xHxW) image in [0, 1] as an 8-bit PNG."""
    pixels = image.detach().reshape(3, *image.shape[-2:]).clamp(0, 1).permute(1, 2, 0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((pixels.numpy() * 255).round().astype(np.uint8)).save(path, format="PNG")
