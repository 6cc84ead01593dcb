"""The albumentations pipeline that params.yaml's ``augment`` section describes."""

from __future__ import annotations

import os
import sys

# At import, albumentations asks PyPI for a newer release and, when torch is
# installed, imports its torch helpers. This stage runs offline and must not
# pay for torch, so both are switched off before the import.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.modules.setdefault("albumentations.pytorch", None)

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dlpipe.config import AugmentParams  # noqa: E402


def build_pipeline(params: AugmentParams, image_size: int, channels: int) -> A.Compose:
    """Mirror, padded random crop, rotation, colour shift and PCA colour augmentation.

    Each transform has its own probability; a seeded Compose makes the output a
    pure function of (params, images).
    """
    pad = params.crop.padding
    transforms: list[A.BasicTransform] = [
        A.HorizontalFlip(p=params.hflip.p),
        A.Sequential(
            [
                A.PadIfNeeded(
                    min_height=image_size + 2 * pad,
                    min_width=image_size + 2 * pad,
                    border_mode=cv2.BORDER_CONSTANT,
                    fill=0,
                ),
                A.RandomCrop(height=image_size, width=image_size),
            ],
            p=params.crop.p,
        ),
        A.Rotate(
            limit=params.rotate.limit,
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            p=params.rotate.p,
        ),
    ]
    if channels == 3:
        # Colour shift and PCA colour noise act on RGB planes; grey data skips them.
        shift = params.color_shift.shift
        transforms += [
            A.RGBShift(
                r_shift_limit=shift,
                g_shift_limit=shift,
                b_shift_limit=shift,
                p=params.color_shift.p,
            ),
            A.FancyPCA(alpha=params.fancy_pca.alpha, p=params.fancy_pca.p),
        ]
    return A.Compose(transforms, seed=params.seed)


def augment_copies(images: np.ndarray, params: AugmentParams) -> np.ndarray:
    """``params.copies`` augmented versions of every image, copy-major (copy 1 of all, then 2...)."""
    size, channels = images.shape[1], images.shape[3]
    pipeline = build_pipeline(params, size, channels)
    out = np.empty((params.copies * len(images), *images.shape[1:]), dtype=np.uint8)
    for copy in range(params.copies):
        for i, image in enumerate(images):
            augmented = pipeline(image=image)["image"]
            out[copy * len(images) + i] = augmented.reshape(images.shape[1:])
    return out
