"""How ``dlpipe predict`` reads and shows clips: ``.npy`` files in, the top classes out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.errors import DataError
from dlpipe.tasks.classify import predict as classify_predict
from dlpipe.tasks.clips.data import read_clip


def load(files: list[str], shape: list[int]) -> np.ndarray:
    """uint8 N×D×S×S×C clips of the split's shape; the first file that is not one is a one-line error."""
    clips = []
    for file in files:
        clip = read_clip(Path(file))  # as the split read the training clips
        if list(clip.shape) != list(shape):
            raise DataError(f"{file}: shape {tuple(clip.shape)}, the model takes {tuple(shape)}")
        clips.append(clip)
    return np.stack(clips)


def show(logits: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """The top classes and their probabilities, as for an image."""
    return classify_predict.show(logits, names, top, arch)
