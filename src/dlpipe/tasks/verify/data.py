"""Verification data: ``{x, identities, names}`` per split, split by identity.

x is uint8 N×S×S×C, identities int64 (indices into the split's own names: val and test hold
people the training split never has). Built-in glyphs train on the characters of
``train_alphabets`` and are judged on those of ``unseen_alphabets``, halved by identity into
val and test (Omniglot's design: alphabets never seen); a user's person folders are dealt
6:2:2 by person.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.config import Params, VerifyData
from dlpipe.data.people import People, split_people


def _subset(people: People, chosen: np.ndarray) -> dict[str, np.ndarray]:
    """The photos of identities ``chosen``, renumbered 0…len(chosen)−1 in that order."""
    keep = np.isin(people.identities, chosen)
    renumber = np.full(len(people.names), -1, dtype=np.int64)
    renumber[chosen] = np.arange(len(chosen))
    return {
        "x": people.images[keep],
        "identities": renumber[people.identities[keep]],
        "names": np.array([people.names[i] for i in chosen]),
    }


def _glyphs(alphabets: list[str], photos: int, settings: VerifyData, seed: int) -> People:
    from dlpipe.data.glyphs import make_glyphs

    glyphs = make_glyphs(alphabets, photos, settings.image_size, seed)
    return People(glyphs.images[..., None], glyphs.identities, glyphs.names)


def split(settings: VerifyData) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    if settings.source == "glyphs":
        try:
            trained = _glyphs(settings.train_alphabets, settings.photos, settings, settings.seed)
            unseen = _glyphs(settings.unseen_alphabets, settings.unseen_photos, settings, settings.seed + 1)
        except ValueError as exc:  # an unknown alphabet
            from dlpipe.errors import ConfigError

            raise ConfigError(f"verify.data: {exc}") from None
        order = np.random.default_rng(settings.seed).permutation(len(unseen.names))
        half = len(order) // 2
        arrays = {
            "train": _subset(trained, np.arange(len(trained.names))),
            "val": _subset(unseen, np.sort(order[:half])),
            "test": _subset(unseen, np.sort(order[half:])),
        }
    else:
        from dlpipe.data.people import read_people

        people = read_people(Path(settings.path or ""), settings.image_size, settings.channels)
        parts = split_people(len(people.names), settings.ratios.model_dump(), settings.seed)
        arrays = {name: _subset(people, chosen) for name, chosen in parts.items()}
    report = {
        "source": settings.source,
        "identities": {name: len(split["names"]) for name, split in arrays.items()},
    }
    return arrays, report


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``verify.augment.copies`` copies of them, each keeping its identity."""
    from dlpipe.data.augment import augment_copies

    settings = params.verify.augment
    copies = augment_copies(train["x"], settings)
    return {
        "x": np.concatenate([train["x"], copies]),
        "identities": np.tile(train["identities"], settings.copies + 1),
        "names": train["names"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The photos as the augment preview shows them: an identity needs no drawing."""
    return arrays["x"]
