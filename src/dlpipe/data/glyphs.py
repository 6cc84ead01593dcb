"""One-shot data with identities: characters of several alphabets, rendered from the fonts
matplotlib installs, one identity per character.

No face set with identities ships in a package, so the built-in data follows the one-shot
benchmark's own design (Omniglot: characters of alphabets never seen in training). Each
image of an identity is one "photo" of it: a font (DejaVu Sans, Serif and Mono in their
weights and slants; STIX where it has the character), a stroke width and a random affine
jitter. Characters that look alike across alphabets (Latin A, Cyrillic А, Greek Α) are one
identity, or the network would be asked to tell apart what no eye can. The validation and
test identities come from alphabets no training identity is drawn from.

Glyphs keep their size relative to the font's em square (an "o" stays smaller than an
"O"), centred on their ink.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _span(first: int, last: int, skip: tuple[int, ...] = ()) -> str:
    return "".join(chr(code) for code in range(first, last + 1) if code not in skip)


ALPHABETS: dict[str, str] = {
    "latin": _span(0x41, 0x5A) + _span(0x61, 0x7A),
    "cyrillic": _span(0x410, 0x44F),
    "greek": _span(0x391, 0x3A9, skip=(0x3A2,)) + _span(0x3B1, 0x3C9),
    "armenian": _span(0x531, 0x556) + _span(0x561, 0x586),
    "georgian": _span(0x10D0, 0x10F0),
}
# Look-alikes, one identity each: the first alphabet's character names it.
LOOK_ALIKES = (
    "AАΑ", "BВΒ", "CС", "EЕΕ", "HНΗ", "IΙ", "KКΚ", "MМΜ", "NΝ", "OОΟ", "PРΡ", "TТΤ", "XХΧ",
    "YΥ", "ZΖ", "aа", "cс", "eе", "oоο", "pрρ", "xхχ", "yу", "ΦФ", "ΓГ", "ΠП", "vν", "kкκ",
)  # fmt: skip
GLYPH_SHARE = 0.75  # the font's size, as a share of the image side
ROTATION = 10.0  # degrees, uniform in ±ROTATION
SCALE = (0.9, 1.1)
SHIFT = 0.08  # share of the image side, each way
SHEAR = 0.15  # the x-shear factor, uniform in ±SHEAR


@dataclass
class Glyphs:
    images: np.ndarray  # uint8 N×S×S: ink bright on black
    identities: np.ndarray  # int64 N: index into names
    names: list[str]  # each identity's characters, e.g. "AАΑ"
    alphabets: list[str]  # each identity's alphabet (its first character's)


def identities(alphabets: list[str]) -> tuple[list[str], list[str]]:
    """The identities of ``alphabets`` (look-alikes merged, named by all their characters that
    belong to these alphabets) and each one's alphabet."""
    unknown = sorted(set(alphabets) - ALPHABETS.keys())
    if unknown:
        raise ValueError(f"unknown alphabet {unknown[0]!r} (known: {', '.join(ALPHABETS)})")
    wanted = "".join(ALPHABETS[name] for name in alphabets)
    merged = {char: group for group in LOOK_ALIKES for char in group}
    names, owners, seen = [], [], set()
    for alphabet in alphabets:
        for char in ALPHABETS[alphabet]:
            if char in seen:
                continue
            group = "".join(c for c in merged.get(char, char) if c in wanted)
            seen.update(group)
            names.append(group)
            owners.append(alphabet)
    return names, owners


@cache
def _font_files() -> tuple[Path, ...]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(sorted([*folder.glob("DejaVu*.ttf"), *folder.glob("STIXGeneral*.ttf")]))


@cache
def _covered(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(str(path)).getBestCmap())


def fonts_for(name: str) -> list[Path]:
    """The installed fonts that have every character of identity ``name``."""
    return [path for path in _font_files() if all(ord(char) in _covered(path) for char in name)]


def render(char: str, font: Path, size: int, stroke: int, rng: np.random.Generator) -> np.ndarray:
    """One photo of ``char``: uint8 size×size, centred on its ink, then jittered."""
    face = ImageFont.truetype(str(font), round(GLYPH_SHARE * size))
    left, top, right, bottom = face.getbbox(char, stroke_width=stroke)
    canvas = Image.new("L", (size, size), 0)
    origin = ((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top)
    ImageDraw.Draw(canvas).text(origin, char, fill=255, font=face, stroke_width=stroke, stroke_fill=255)
    centre = (size / 2, size / 2)
    matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-ROTATION, ROTATION), rng.uniform(*SCALE))
    shear = rng.uniform(-SHEAR, SHEAR)
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * centre[1]
    matrix[:, 2] += rng.uniform(-SHIFT, SHIFT, 2) * size
    return cv2.warpAffine(np.asarray(canvas), matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def make_glyphs(alphabets: list[str], per_identity: int, size: int, seed: int) -> Glyphs:
    """``per_identity`` photos of each identity of ``alphabets``: a font, stroke width 0 or 1
    and a jitter drawn for each, from one generator seeded with ``seed``."""
    names, owners = identities(alphabets)
    rng = np.random.default_rng(seed)
    images = np.empty((len(names) * per_identity, size, size), dtype=np.uint8)
    for i, name in enumerate(names):
        fonts = fonts_for(name)
        for k in range(per_identity):
            char = name[rng.integers(len(name))]
            font = fonts[rng.integers(len(fonts))]
            images[i * per_identity + k] = render(char, font, size, int(rng.integers(2)), rng)
    return Glyphs(images, np.repeat(np.arange(len(names)), per_identity), names, owners)
