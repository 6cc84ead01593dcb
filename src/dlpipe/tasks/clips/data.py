"""Clip data: ``{x, y, classes}`` per split, split stratified by class.

x is uint8 N×D×S×S×C (D frames, or slices of a volume), y the class index of each clip,
classes the class names. Built-in: digits moving in one of four directions
(``data/clips.py``); or a folder per class of ``.npy`` arrays, D×H×W or D×H×W×C.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.config import ClipsData, Params
from dlpipe.data.split import class_counts, stratified_split
from dlpipe.errors import DataError


def read_clip(file: Path) -> np.ndarray:
    """One .npy clip as uint8 D×S×S×C (C 1 or 3); anything else is a one-line error naming the file."""
    try:
        clip = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not a readable .npy array ({str(exc).splitlines()[0]})") from None
    if clip.dtype != np.uint8:
        raise DataError(f"{file}: dtype {clip.dtype}, expected uint8 (scale the values to 0-255)")
    found = clip.shape
    if clip.ndim == 3:
        clip = clip[..., None]
    if clip.ndim != 4 or clip.shape[3] not in (1, 3) or clip.shape[1] != clip.shape[2]:
        raise DataError(f"{file}: shape {found}, expected D×S×S or D×S×S×C with C 1 or 3 (square frames)")
    return clip


def read_folders(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """root/<class>/*.npy: uint8 arrays of one shape, D×S×S or D×S×S×C (C 1 or 3). A file of
    another shape or type is a one-line error naming it."""
    if not root.is_dir():
        raise DataError(f"clips.data.path {root}: no such folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [
        (file, label) for label, name in enumerate(classes) for file in sorted((root / name).glob("*.npy"))
    ]
    if len(classes) < 2 or not files:
        raise DataError(f"{root}: needs a folder per class (two or more) of .npy clips")
    clips, shape = [], None
    for file, _ in files:
        clip = read_clip(file)
        if shape is not None and clip.shape != shape:
            raise DataError(f"{file}: shape {clip.shape}, but {files[0][0]} has {shape}: one shape for all")
        shape = clip.shape
        clips.append(clip)
    labels = np.array([label for _, label in files], dtype=np.int64)
    return np.stack(clips), labels, classes


def split(settings: ClipsData) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    if settings.source == "moving_digits":
        from dlpipe.data.clips import DIRECTIONS, make_clips

        made = make_clips(settings.clips, settings.frames, settings.image_size, settings.speed, settings.seed)
        clips, labels, classes = made.clips, made.labels, list(DIRECTIONS)
    else:
        clips, labels, classes = read_folders(Path(settings.path or ""))
    indices = stratified_split(labels, settings.ratios, settings.seed).indices
    names = np.array(classes)
    arrays = {name: {"x": clips[idx], "y": labels[idx], "classes": names} for name, idx in indices.items()}
    report = {
        "source": settings.source,
        "counts": {name: class_counts(labels[idx], classes) for name, idx in indices.items()},
    }
    return arrays, report


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``clips.augment.copies`` copies; every frame of a clip gets the
    same crop, rotation and colour shift, so what moves keeps moving the same way."""
    from dlpipe.data.augment import build_pipeline

    settings = params.clips.augment
    clips = train["x"]
    pipeline = build_pipeline(settings, clips.shape[2], clips.shape[4])
    copies = np.empty((settings.copies * len(clips), *clips.shape[1:]), dtype=np.uint8)
    for copy in range(settings.copies):
        for i, clip in enumerate(clips):
            copies[copy * len(clips) + i] = np.reshape(pipeline(images=clip)["images"], clip.shape)
    return {
        "x": np.concatenate([clips, copies]),
        "y": np.tile(train["y"], settings.copies + 1),
        "classes": train["classes"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """A clip as one picture: the brightest value of each pixel over the frames, which traces
    every path."""
    return arrays["x"].max(axis=1)
