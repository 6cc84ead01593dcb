"""Photos with identities for verification: a folder per person, split by person.

A user brings ``path/<identity>/<image>`` (PNG or JPEG, any size, grey or colour). The
split is by identity, never by photo: the validation and test people are never trained on,
which is what verification of a new person, and one-shot recognition, must be judged on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from dlpipe.data.sources import IMAGE_SUFFIXES, image_array, read_image
from dlpipe.errors import DataError

SPLITS = ("train", "val", "test")
LEAST_PHOTOS = 2  # a person's photos: one alone makes no pair of the same person
LEAST_PEOPLE = 2  # in each split: verification needs a pair of different people


@dataclass
class People:
    images: np.ndarray  # uint8 N×S×S×C
    identities: np.ndarray  # int64 N, indices into names
    names: list[str]


def read_people(root: Path, size: int, channels: int, least_photos: int = LEAST_PHOTOS) -> People:
    """Every person folder of ``root`` and its photos, as ``channels`` (1 or 3) at size×size.

    One line names what is wrong: a missing folder, a person folder with fewer than
    ``least_photos`` photos (two to train on: a pair of the same person; one to enroll), an
    image that cannot be read."""
    if not root.is_dir():
        raise DataError(f"{root}: verify.data.path is not a folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images, identities = [], []
    for identity, folder in enumerate(folders):
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < least_photos:
            found = "no PNG or JPEG image" if not files else f"one image ({files[0].name})"
            needed = f"{least_photos} photo{'s' * (least_photos > 1)}"
            raise DataError(f"{folder}: a person needs at least {needed}, the folder holds {found}")
        for file in files:
            try:
                images.append(image_array(read_image(file), size, channels))
            except (UnidentifiedImageError, OSError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise DataError(f"{file}: cannot read image ({reason})") from None
            identities.append(identity)
    if not images:
        raise DataError(f"{root}: holds no person folder (path/<identity>/<image>)")
    return People(np.stack(images), np.array(identities, dtype=np.int64), [f.name for f in folders])


def split_people(count: int, ratios: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """The identities 0…count−1 dealt to train, val and test in ``ratios`` (seeded), each split
    with at least LEAST_PEOPLE."""
    order = np.random.default_rng(seed).permutation(count)
    test = round(count * ratios["test"])
    val = round(count * ratios["val"])
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    short = [f"{name} {len(part)}" for name, part in parts.items() if len(part) < LEAST_PEOPLE]
    if short:
        raise DataError(
            f"{count} people split {ratios['train']:g}:{ratios['val']:g}:{ratios['test']:g} by identity "
            f"leave {', '.join(short)}: each split needs at least {LEAST_PEOPLE}"
        )
    return {name: np.sort(parts[name]) for name in SPLITS}
