"""Built-in clips where depth matters by construction: a real digit moving in one of four
directions, labelled by the direction, with a second digit beside it that jumps about.

Each clip holds two of scikit-learn's handwritten digits. One moves a few pixels a frame
along a straight line (right, left, down or up: the label); the other visits the positions of
such a line along the other axis in a shuffled order. The average of a clip's frames is
therefore a horizontal and a vertical smear whatever the label: a right-moving clip and its
left-moving twin average to the same image, and the smear of the moving digit lies along
either axis as often as the jumping one's. A network that sees the frames one after another
can tell which digit moves smoothly and where to; one that sees their average cannot
(tests/test_clips.py measures both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

DIRECTIONS = ("right", "left", "down", "up")
# (row, column) step of each direction
_STEPS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}


@dataclass(frozen=True)
class Clips:
    clips: np.ndarray  # uint8 N×D×S×S×1
    labels: np.ndarray  # int64 N, index into DIRECTIONS


def _digit_sprites(size: int) -> np.ndarray:
    """scikit-learn's 1,797 8×8 digits resized to ``size`` pixels, uint8."""
    from sklearn.datasets import load_digits

    images = np.round(load_digits().images * (255.0 / 16.0)).astype(np.uint8)
    return np.stack(
        [np.asarray(Image.fromarray(d).resize((size, size), Image.Resampling.BILINEAR)) for d in images]
    )


def path_problem(frames: int, image_size: int, speed: int) -> str | None:
    """Why a digit's path would leave the frame, or None when it fits."""
    digit, travel = image_size * 3 // 8, speed * (frames - 1)
    if digit + travel <= image_size:
        return None
    return (
        f"a {digit}-pixel digit moving {speed} pixels over {frames} frames leaves a "
        f"{image_size}-pixel frame: fewer frames, a lower speed or larger images"
    )


def make_clips(count: int, frames: int, image_size: int, speed: int, seed: int) -> Clips:
    """``count`` clips of ``frames`` frames, ``image_size`` pixels square, the digit moving
    ``speed`` pixels a frame; classes balanced (count // 4 each, the rest to the first ones)."""
    problem = path_problem(frames, image_size, speed)
    if problem:
        raise ValueError(problem)
    digit, travel = image_size * 3 // 8, speed * (frames - 1)
    sprites = _digit_sprites(digit)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(DIRECTIONS)).astype(np.int64)
    clips = np.zeros((count, frames, image_size, image_size), dtype=np.uint8)
    path = np.arange(frames) * speed
    for i, label in enumerate(labels):
        mover, jumper = sprites[rng.integers(len(sprites), size=2)]
        d_row, d_col = _STEPS[DIRECTIONS[label]]
        along = path if d_row + d_col > 0 else path[::-1]
        shuffled = rng.permutation(path)
        start = rng.integers(0, image_size - digit - travel + 1, size=2)  # where each path begins
        across = rng.integers(0, image_size - digit + 1, size=2)  # each digit's other coordinate
        for t in range(frames):
            if d_row:  # the mover goes along the rows, the jumper along the columns
                places = ((start[0] + along[t], across[0]), (across[1], start[1] + shuffled[t]))
            else:
                places = ((across[0], start[0] + along[t]), (start[1] + shuffled[t], across[1]))
            for sprite, (row, col) in zip((mover, jumper), places, strict=True):
                window = clips[i, t, row : row + digit, col : col + digit]
                np.maximum(window, sprite, out=window)
    return Clips(clips[..., None], labels)
