"""augment: data/split/train.npz -> data/augmented/train.npz + reports/augment_preview.png."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dlpipe import io, paths
from dlpipe.config import Params
from dlpipe.data.augment import augment_copies

_TILE = 64
_MAX_COLUMNS = 6


def preview_grid(originals: np.ndarray, copies: np.ndarray, rows: int) -> Image.Image:
    """Each row: an original, then its augmented copies (at most five)."""
    n = len(originals)
    rows = min(rows, n)
    columns = min(1 + len(copies) // max(n, 1), _MAX_COLUMNS)
    grid = Image.new("L" if originals.shape[3] == 1 else "RGB", (columns * _TILE, rows * _TILE))
    for r in range(rows):
        tiles = [originals[r]] + [copies[c * n + r] for c in range(columns - 1)]
        for c, tile in enumerate(tiles):
            picture = Image.fromarray(tile.squeeze(-1) if tile.shape[-1] == 1 else tile)
            grid.paste(picture.resize((_TILE, _TILE), Image.Resampling.NEAREST), (c * _TILE, r * _TILE))
    return grid


def run(params: Params) -> None:
    train = io.load_arrays(paths.split_file("train"))
    originals, labels = train["x"], train["y"]
    copies = augment_copies(originals, params.augment)
    images = np.concatenate([originals, copies])
    all_labels = np.tile(labels, params.augment.copies + 1)
    io.save_arrays(paths.AUGMENTED_TRAIN, {"x": images, "y": all_labels, "classes": train["classes"]})
    grid = preview_grid(originals, copies, params.augment.preview_examples)
    with io.atomic_path(paths.AUGMENT_PREVIEW) as tmp:
        grid.save(tmp, format="PNG")
    print(f"augment: {len(originals)} originals + {len(copies)} augmented copies")
