"""The albumentations pipeline that params.yaml's ``augment`` section describes.

Images alone (``augment_copies``), images with one YOLO box (``augment_boxes``)
and images with named landmark points (``augment_points``) all go through the
same transforms, so a setting means the same thing for every task family.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# At import, albumentations asks PyPI for a newer release and, when torch is
# installed, imports its torch helpers. This stage runs offline and must not
# pay for torch, so both are switched off before the import.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.modules.setdefault("albumentations.pytorch", None)

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dlpipe.config import AugmentParams  # noqa: E402
from dlpipe.errors import DataError  # noqa: E402


def build_pipeline(
    params: AugmentParams,
    image_size: int,
    channels: int,
    *,
    bbox_params: A.BboxParams | None = None,
    keypoint_params: A.KeypointParams | None = None,
    save_applied_params: bool = False,
) -> A.Compose:
    """Mirror, padded random crop, rotation, colour shift and PCA colour augmentation.

    Each transform has its own probability; a seeded Compose makes the output a
    pure function of (params, images). ``bbox_params`` / ``keypoint_params`` make
    the geometric transforms move boxes / points with the pixels;
    ``save_applied_params`` lists the transforms each call applied (under
    ``applied_transforms``), which is how a mirror is detected.
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
    return A.Compose(
        transforms,
        bbox_params=bbox_params,
        keypoint_params=keypoint_params,
        seed=params.seed,
        save_applied_params=save_applied_params,
    )


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


# A box keeps its object while at least this share of its (transformed) area is
# still inside the image; below that the copy becomes background only.
MIN_VISIBLE_SHARE = 0.25


def augment_boxes(
    images: np.ndarray,
    present: np.ndarray,
    labels: np.ndarray,
    boxes: np.ndarray,
    params: AugmentParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``params.copies`` augmented copies of scenes with at most one YOLO box each, copy-major.

    The transforms of :func:`build_pipeline` move the box with albumentations' own
    bbox support (``BboxParams(format="yolo")``): a mirror maps ``cx → 1 − cx``, a
    padded crop shifts it by the crop's offset, a rotation takes the box around the
    rotated corners (albumentations' ``largest_box``: it still encloses the object,
    looser than the ink). A box pushed partly out of the image is CLIPPED to it; if
    less than ``MIN_VISIBLE_SHARE`` of its area stays inside, the object counts as
    lost and the copy is marked absent (present 0, label 0, box zeros).
    """
    size, channels = images.shape[1], images.shape[3]
    bbox_params = A.BboxParams(
        format="yolo", label_fields=["class_labels"], min_visibility=MIN_VISIBLE_SHARE, clip=True
    )
    pipeline = build_pipeline(params, size, channels, bbox_params=bbox_params)
    total = params.copies * len(images)
    out_images = np.empty((total, *images.shape[1:]), dtype=np.uint8)
    out_present = np.zeros(total, dtype=np.int64)
    out_labels = np.zeros(total, dtype=np.int64)
    out_boxes = np.zeros((total, 4), dtype=np.float32)
    for copy in range(params.copies):
        for i, image in enumerate(images):
            j = copy * len(images) + i
            has_box = bool(present[i])
            result = pipeline(
                image=image,
                bboxes=np.asarray(boxes[i : i + 1] if has_box else np.zeros((0, 4)), dtype=np.float32),
                class_labels=[int(labels[i])] if has_box else [],
            )
            out_images[j] = result["image"].reshape(images.shape[1:])
            if len(result["bboxes"]):
                out_present[j] = 1
                out_labels[j] = result["class_labels"][0]
                out_boxes[j] = result["bboxes"][0]
    return out_images, out_present, out_labels, out_boxes


def augment_objects(
    images: np.ndarray, image: np.ndarray, labels: np.ndarray, boxes: np.ndarray, params: AugmentParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``params.copies`` augmented copies of scenes with any number of YOLO boxes, copy-major;
    the objects a flat table (``image``: the scene of each). Boxes move as in
    :func:`augment_boxes`; an object less than ``MIN_VISIBLE_SHARE`` visible is dropped."""
    size, channels = images.shape[1], images.shape[3]
    bbox_params = A.BboxParams(
        format="yolo", label_fields=["class_labels"], min_visibility=MIN_VISIBLE_SHARE, clip=True
    )
    pipeline = build_pipeline(params, size, channels, bbox_params=bbox_params)
    out_images = np.empty((params.copies * len(images), *images.shape[1:]), dtype=np.uint8)
    out_image, out_labels, out_boxes = [], [], []
    for copy in range(params.copies):
        for i, picture in enumerate(images):
            j = copy * len(images) + i
            mine = image == i
            result = pipeline(
                image=picture,
                bboxes=np.asarray(boxes[mine], dtype=np.float32).reshape(-1, 4),
                class_labels=[int(label) for label in labels[mine]],
            )
            out_images[j] = result["image"].reshape(images.shape[1:])
            out_image += [j] * len(result["bboxes"])
            out_labels += [int(label) for label in result["class_labels"]]
            out_boxes += [np.asarray(box, dtype=np.float32) for box in result["bboxes"]]
    return (
        out_images,
        np.array(out_image, dtype=np.int64),
        np.array(out_labels, dtype=np.int64),
        np.array(out_boxes, dtype=np.float32).reshape(-1, 4),
    )


def mirror_permutation(mirror_pairs: Sequence[tuple[int, int]], count: int) -> np.ndarray:
    """The point order after a horizontal mirror: ``new[k] = old[perm[k]]``, each pair swapped.

    A point may appear in one pair at most, or the result would not be a permutation.
    """
    perm = np.arange(count)
    seen: set[int] = set()
    for a, b in mirror_pairs:
        for k in (a, b):
            if not 0 <= k < count:
                raise DataError(f"mirror_pairs: ({a}, {b}) names point {k}, not one of 0..{count - 1}")
            if k in seen or a == b:
                raise DataError(f"mirror_pairs: point {k} appears in more than one pair")
            seen.add(k)
        perm[a], perm[b] = b, a
    return perm


def augment_points(
    images: np.ndarray,
    points: np.ndarray,
    params: AugmentParams,
    mirror_pairs: Sequence[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """``params.copies`` augmented copies of images with K named points each, copy-major.

    ``points`` are N×K×2, ``(x, y)`` normalised by width and height in continuous
    coordinates (0 = left edge of the first pixel). albumentations' ``xy`` keypoints
    put pixel centres at integers (its mirror is ``x → W − 1 − x``), so points go in
    as ``x · W − 0.5`` and come back with ``+ 0.5``; a mirror is then exactly
    ``x → 1 − x``. Points that leave the image stay, outside [0, 1]
    (``remove_invisible=False``): the K points keep their count and order.

    albumentations 2.0.8 has no label swap for keypoints on flips, so each call lists
    its applied transforms and, after a ``HorizontalFlip``, the points are reordered
    by ``mirror_pairs`` (``new[a] = old[b]`` for each pair): the mirrored left eye is
    the new right eye, the mirrored top-left corner the new top-right.
    """
    size, channels = images.shape[1], images.shape[3]
    scale = np.array([images.shape[2], images.shape[1]], dtype=np.float64)
    keypoint_params = A.KeypointParams(format="xy", remove_invisible=False)
    pipeline = build_pipeline(
        params, size, channels, keypoint_params=keypoint_params, save_applied_params=True
    )
    perm = mirror_permutation(mirror_pairs, points.shape[1])
    total = params.copies * len(images)
    out_images = np.empty((total, *images.shape[1:]), dtype=np.uint8)
    out_points = np.empty((total, *points.shape[1:]), dtype=np.float32)
    for copy in range(params.copies):
        for i, image in enumerate(images):
            j = copy * len(images) + i
            result = pipeline(image=image, keypoints=points[i].astype(np.float64) * scale - 0.5)
            out_images[j] = result["image"].reshape(images.shape[1:])
            moved = (np.asarray(result["keypoints"], dtype=np.float64)[:, :2] + 0.5) / scale
            mirrored = any(name == "HorizontalFlip" for name, _ in result["applied_transforms"])
            out_points[j] = moved[perm] if mirrored else moved
    return out_images, out_points
