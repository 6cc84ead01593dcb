"""Stratified, seeded train/val/test split and train-only normalisation statistics."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from dlpipe.config import Ratios
from dlpipe.errors import DataError


@dataclass
class Split:
    indices: dict[str, np.ndarray]  # split name -> indices into the ImageSet


def stratified_split(labels: np.ndarray, ratios: Ratios, seed: int) -> Split:
    """Split indices so that every class keeps its share in train, val and test."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(labels))
    try:
        rest, test = train_test_split(everything, test_size=ratios.test, stratify=labels, random_state=seed)
        val_share = ratios.val / (ratios.train + ratios.val)
        train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot split {len(labels)} images stratified: {exc}") from None
    return Split({"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)})


def hold_out_train_dev(split: Split, labels: np.ndarray, share: float, seed: int) -> Split:
    """Move ``share`` of the training examples (stratified) to a ``train_dev`` split: same
    distribution as train, never trained on, so dev − train-dev measures data mismatch."""
    if share <= 0:
        return split
    from sklearn.model_selection import train_test_split

    train = split.indices["train"]
    try:
        kept, held = train_test_split(train, test_size=share, stratify=labels[train], random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot hold out data.train_dev={share:g} of the train split: {exc}") from None
    return Split({**split.indices, "train": np.sort(kept), "train_dev": np.sort(held)})


def content_hash(splits: dict[str, dict[str, np.ndarray]]) -> str:
    """sha256 of every array of every split, names included: names the exact data a run saw."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        for key in sorted(splits[split]):
            array = np.ascontiguousarray(splits[split][key])
            digest.update(f"{split}/{key}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


_HISTOGRAM_BLOCK = 1 << 18  # pixels: a block's int64 copy (2-6 MB) stays in cache


def normalization_stats(images: np.ndarray) -> dict[str, list[float]]:
    """Per-channel mean and std of uint8 pixels scaled to [0, 1]; computed on train only.

    From each channel's histogram of its 256 values: the same numbers as the mean and std
    of every pixel in float64, ten times faster and without a float copy of the split
    (3.5 GB for the 36,000 localize scenes). The histograms are counted a block of pixels at a
    time, value and channel as one index: a channel's strided column cast whole to int64
    took 7.0 s of 12,000 detection scenes, the blocks 0.9 s.
    """
    pixels = images.reshape(-1, images.shape[-1])
    channels = pixels.shape[1]
    offsets = np.arange(channels, dtype=np.uint16) * 256
    histograms = np.zeros(256 * channels, dtype=np.int64)
    for start in range(0, len(pixels), _HISTOGRAM_BLOCK):
        block = pixels[start : start + _HISTOGRAM_BLOCK] + offsets  # uint16: value + 256·channel
        histograms += np.bincount(block.ravel(), minlength=256 * channels)
    values = np.arange(256) / 255.0
    mean, std = [], []
    for counts in histograms.reshape(channels, 256):
        channel_mean = counts @ values / counts.sum()
        variance = counts @ (values - channel_mean) ** 2 / counts.sum()
        mean.append(channel_mean)
        std.append(max(np.sqrt(variance), 1e-6))
    return {"mean": np.round(mean, 6).tolist(), "std": np.round(std, 6).tolist()}


def class_counts(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(class_names))
    return {name: int(count) for name, count in zip(class_names, counts, strict=True)}
