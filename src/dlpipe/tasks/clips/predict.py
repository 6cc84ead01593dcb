"""How ``dlpipe predict`` reads and shows clips: ``.npy`` files in, the top classes out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.errors import DataError
from dlpipe.tasks.classify import predict as classify_predict


def load(files: list[str], shape: list[int]) -> np.ndarray:
    """uint8 N×D×S×S×C clips of the split's shape; the first file that is not one is a one-line error."""
    clips = []
    for file in files:
        path = Path(file)
        try:
            clip = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable .npy clip ({str(exc).splitlines()[0]})") from None
        if clip.ndim == 3:
            clip = clip[..., None]
        if clip.dtype != np.uint8 or list(clip.shape) != list(shape):
            raise DataError(f"{path}: {clip.dtype} {tuple(clip.shape)}, the model takes uint8 {tuple(shape)}")
        clips.append(clip)
    return np.stack(clips)


def show(logits: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """The top classes and their probabilities, as for an image."""
    return classify_predict.show(logits, names, top, arch)
