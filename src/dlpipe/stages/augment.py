"""augment FAMILY: data/FAMILY/split/train.npz -> data/FAMILY/augmented/train.npz and
reports/FAMILY/augment_preview.png.

The family augments its own targets with the pixels (boxes, points); the
preview shows each original beside its augmented copies, targets drawn.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from dlpipe import disk, paths
from dlpipe.config import Params
from dlpipe.tasks import FAMILIES

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


def run(params: Params, family: str = "classify") -> None:
    data = FAMILIES[family].part("data")
    settings = params.augment_of(family)
    train = disk.load_arrays(paths.split_file(family, "train"))
    augmented = data.augment(train, params)
    disk.save_arrays(paths.augmented_train(family), augmented)
    drawn = data.draw(augmented)
    n = len(train["x"])
    grid = preview_grid(drawn[:n], drawn[n:], settings.preview_examples)
    with disk.atomic_path(paths.augment_preview(family)) as tmp:
        grid.save(tmp, format="PNG")
    print(f"augment {family}: {n} originals + {len(augmented['x']) - n} augmented copies")
