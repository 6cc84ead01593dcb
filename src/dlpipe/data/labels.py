"""Readers for the user's own labelled images: YOLO boxes and CSV landmark points.

A user who brings data for localisation or landmarks labels it with a common
tool; YOLO text files and a points CSV are what those tools export. Any problem
is one line naming the file (and line) so the user can open it and fix it.

Coordinates are continuous: a box or point at x = 0 lies on the left edge of
the first pixel, at x = width (or 1 when normalised) on the right edge of the
last, so resizing an image leaves normalised coordinates unchanged.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from dlpipe.data.sources import IMAGE_SUFFIXES, image_array, read_image
from dlpipe.errors import DataError

# A box edge may pass the image border by this much (rounding in the labelling tool).
EDGE_TOLERANCE = 1e-6
_POINT_COLUMN = re.compile(r"([xy])([1-9][0-9]*)")


def _load(path: Path, image_size: int, where: str) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as uint8 RGB image_size², and its original (width, height)."""
    try:
        image = read_image(path)
    except (UnidentifiedImageError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{where}: cannot read image ({reason})") from None
    return image_array(image, image_size, 3), image.size


def _read_classes(root: Path) -> list[str]:
    path = root / "classes.txt"
    if not path.is_file():
        raise DataError(f"{path}: not found (one class name per line)")
    names: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name in names:
            raise DataError(f"{path}:{number}: class name {name!r} appears twice")
        names.append(name)
    if not names:
        raise DataError(f"{path}: names no class (one class name per line)")
    return names


def _read_box(path: Path, class_count: int) -> tuple[int, np.ndarray] | None:
    """The one ``class cx cy w h`` line of a label file, or None for a background image."""
    found: tuple[int, np.ndarray] | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        where = f"{path}:{number}"
        parts = text.split()
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = []
        if len(parts) != 5 or len(numbers) != 5 or not all(map(math.isfinite, numbers)):
            raise DataError(f"{where}: expected 5 numbers 'class cx cy w h' (got {text!r})")
        if found is not None:
            raise DataError(f"{where}: one object per image (this file already holds a box)")
        class_id, cx, cy, w, h = numbers
        if class_id != int(class_id) or not 0 <= class_id < class_count:
            raise DataError(f"{where}: unknown class id {parts[0]} (classes.txt names 0..{class_count - 1})")
        if w <= 0 or h <= 0:
            raise DataError(f"{where}: degenerate box (w={parts[3]}, h={parts[4]}; both must be > 0)")
        edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if min(edges) < -EDGE_TOLERANCE or max(edges) > 1 + EDGE_TOLERANCE:
            x_range, y_range = f"{edges[0]:g}..{edges[2]:g}", f"{edges[1]:g}..{edges[3]:g}"
            raise DataError(
                f"{where}: box outside the image (x {x_range}, y {y_range}; edges must lie in [0, 1])"
            )
        x0, y0, x1, y1 = np.clip(edges, 0.0, 1.0)
        found = (int(class_id), np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], np.float32))
    return found


def read_yolo(
    root: Path, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A YOLO folder with at most one object per image, as (images, present, labels, boxes, class_names).

    Layout: ``root/classes.txt`` (class id k is line k's name, blank lines skipped),
    ``root/images/*.{png,jpg,jpeg}``, ``root/labels/<stem>.txt`` holding nothing or
    one line ``class cx cy w h`` (box centre and size normalised by the image's width
    and height). No label file, or an empty one, means background only. Images are
    read in name order and resized to image_size² RGB; normalised boxes need no change
    (edges within EDGE_TOLERANCE of the border are clipped to it).
    """
    root = Path(root)
    class_names = _read_classes(root)
    image_dir, label_dir = root / "images", root / "labels"
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: not a folder (the images of a YOLO data set)")
    files = sorted(p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{image_dir}: holds no PNG or JPEG images")
    by_stem: dict[str, Path] = {}
    for file in files:
        if file.stem in by_stem:
            raise DataError(f"{file}: another image has the same name stem ({by_stem[file.stem].name})")
        by_stem[file.stem] = file
    if label_dir.is_dir():
        for label_file in sorted(label_dir.glob("*.txt")):
            if label_file.stem not in by_stem:
                raise DataError(f"{label_file}: no image {label_file.stem}.png/.jpg/.jpeg in {image_dir}")

    count = len(files)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    present = np.zeros(count, dtype=np.int64)
    labels = np.zeros(count, dtype=np.int64)
    boxes = np.zeros((count, 4), dtype=np.float32)
    for i, file in enumerate(files):
        images[i], _ = _load(file, image_size, str(file))
        label_file = label_dir / f"{file.stem}.txt"
        box = _read_box(label_file, len(class_names)) if label_file.is_file() else None
        if box is not None:
            present[i], (labels[i], boxes[i]) = 1, box
    return images, present, labels, boxes, class_names


def _point_columns(header: list[str], path: Path) -> int:
    """K, the number of points a header ``image,x1,y1,...,xK,yK`` names (any column order)."""
    names = [name.strip() for name in header]
    usage = f"{path}: header needs image,x1,y1,...,xK,yK"
    for name in names:
        if name != "image" and not _POINT_COLUMN.fullmatch(name):
            raise DataError(f"{usage} (unexpected {name!r})")
        if names.count(name) > 1:
            raise DataError(f"{usage} ({name} appears twice)")
    count = max((int(_POINT_COLUMN.fullmatch(n)[2]) for n in names if n != "image"), default=1)
    for expected in ["image"] + [f"{axis}{k}" for k in range(1, count + 1) for axis in "xy"]:
        if expected not in names:
            raise DataError(f"{usage} (missing {expected})")
    return count


def read_points(csv_path: Path, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images and their K landmark points from a CSV, as (images, points N×K×2).

    Header ``image,x1,y1,...,xK,yK``; each row names an image (relative to the CSV's
    folder) and its K points in pixels of that image, continuous coordinates
    (0..width, 0..height). Points come back normalised, ``(x / width, y / height)``,
    so they hold for the image resized to image_size² RGB. Blank rows are skipped;
    line numbers in errors count the header as line 1.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: not found")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:  # a spreadsheet may write a BOM
        reader = csv.reader(handle)
        header = next(reader, [])
        count = _point_columns(header, csv_path)
        column = {name.strip(): index for index, name in enumerate(header)}
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{csv_path}: holds no rows below the header")

    images = np.empty((len(rows), image_size, image_size, 3), dtype=np.uint8)
    points = np.empty((len(rows), count, 2), dtype=np.float32)
    for i, (number, row) in enumerate(rows):
        where = f"{csv_path}:{number}"
        if len(row) > len(header):
            raise DataError(f"{where}: {len(row)} values for {len(header)} columns")
        row = row + [""] * (len(header) - len(row))
        values = np.empty((count, 2))
        for k in range(count):
            for axis, name in enumerate((f"x{k + 1}", f"y{k + 1}")):
                text = row[column[name]].strip()
                try:
                    values[k, axis] = float(text)
                except ValueError:
                    values[k, axis] = math.nan
                if not math.isfinite(values[k, axis]):
                    raise DataError(f"{where}: {name} is not a number ({text!r})")
        relative = row[column["image"]].strip()
        image_path = csv_path.parent / relative
        if not relative or not image_path.is_file():
            raise DataError(f"{where}: image not found ({relative!r} next to {csv_path.name})")
        images[i], (width, height) = _load(image_path, image_size, f"{where}: {relative}")
        outside = (values[:, 0] < 0) | (values[:, 0] > width) | (values[:, 1] < 0) | (values[:, 1] > height)
        if outside.any():
            k = int(np.argmax(outside))
            raise DataError(
                f"{where}: point {k + 1} ({values[k, 0]:g}, {values[k, 1]:g}) lies outside "
                f"the {width}×{height} image"
            )
        points[i] = values / np.array([width, height])
    return images, points
