"""Readers for the user's own labelled images: YOLO boxes, COCO detection files and CSV
landmark points.

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


def _read_boxes(path: Path, class_count: int) -> list[tuple[int, int, np.ndarray]]:
    """Every ``class cx cy w h`` line of a label file as (line number, class, box); none for a
    background image."""
    found: list[tuple[int, int, np.ndarray]] = []
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
        class_id, cx, cy, w, h = numbers
        if class_id != int(class_id) or not 0 <= class_id < class_count:
            raise DataError(f"{where}: unknown class id {parts[0]} (classes.txt names 0..{class_count - 1})")
        found.append((number, int(class_id), _normalised_box(where, cx - w / 2, cy - h / 2, w, h)))
    return found


def _normalised_box(where: str, x0: float, y0: float, w: float, h: float) -> np.ndarray:
    """(cx, cy, w, h) of a box given by its top-left corner and size, all normalised; refused
    when degenerate or outside the image, clipped to it within EDGE_TOLERANCE."""
    if w <= 0 or h <= 0:
        raise DataError(f"{where}: degenerate box (w={w:g}, h={h:g}; both must be > 0)")
    edges = (x0, y0, x0 + w, y0 + h)
    if min(edges) < -EDGE_TOLERANCE or max(edges) > 1 + EDGE_TOLERANCE:
        x_range, y_range = f"{edges[0]:g}..{edges[2]:g}", f"{edges[1]:g}..{edges[3]:g}"
        raise DataError(
            f"{where}: box outside the image (x {x_range}, y {y_range}; edges must lie in [0, 1])"
        )
    x0, y0, x1, y1 = np.clip(edges, 0.0, 1.0)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], np.float32)


def _yolo_folder(root: Path) -> tuple[list[str], list[Path], Path]:
    """A YOLO folder's class names, its images in name order and its labels folder, checked."""
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
    return class_names, files, label_dir


def _objects_of(label_dir: Path, file: Path, class_count: int) -> list[tuple[int, int, np.ndarray]]:
    label_file = label_dir / f"{file.stem}.txt"
    return _read_boxes(label_file, class_count) if label_file.is_file() else []


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
    class_names, files, label_dir = _yolo_folder(Path(root))
    count = len(files)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    present = np.zeros(count, dtype=np.int64)
    labels = np.zeros(count, dtype=np.int64)
    boxes = np.zeros((count, 4), dtype=np.float32)
    for i, file in enumerate(files):
        images[i], _ = _load(file, image_size, str(file))
        objects = _objects_of(label_dir, file, len(class_names))
        if len(objects) > 1:
            number = objects[1][0]
            raise DataError(
                f"{label_dir / file.stem}.txt:{number}: one object per image (this file already holds a box)"
            )
        if objects:
            present[i], labels[i], boxes[i] = 1, objects[0][1], objects[0][2]
    return images, present, labels, boxes, class_names


def read_yolo_objects(
    root: Path, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A YOLO folder with any number of objects per image (detection), as (images, image,
    labels, boxes, class_names): the objects one flat table, ``image`` the index of each
    object's image. Layout and boxes as ``read_yolo``, a label file holding one line per object."""
    class_names, files, label_dir = _yolo_folder(Path(root))
    images = np.empty((len(files), image_size, image_size, 3), dtype=np.uint8)
    image, labels, boxes = [], [], []
    for i, file in enumerate(files):
        images[i], _ = _load(file, image_size, str(file))
        for _, class_id, box in _objects_of(label_dir, file, len(class_names)):
            image.append(i)
            labels.append(class_id)
            boxes.append(box)
    return images, *_table(image, labels, boxes), class_names


def _table(image: list[int], labels: list[int], boxes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    return (
        np.array(image, dtype=np.int64),
        np.array(labels, dtype=np.int64),
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
    )


def _field(record: dict, key: str, kinds: type | tuple[type, ...], where: str):
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise DataError(f"{where}: needs {key!r} ({value!r} found)")
    return value


def read_coco(
    json_path: Path, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A COCO detection file, as ``read_yolo_objects`` returns a YOLO folder.

    ``images`` (id, file_name relative to the JSON's folder), ``categories`` (id, name; class k
    is the k-th by id) and ``annotations`` (id, image_id, category_id, bbox [x, y, w, h] in
    pixels of the image; ``iscrowd: 1`` regions are skipped, as COCO's evaluation ignores
    them). Errors name the annotation (or image) id.
    """
    import json

    json_path = Path(json_path)
    try:
        document = json.loads(json_path.read_text())
    except OSError as exc:
        raise DataError(f"{json_path}: cannot read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{json_path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    sections = {}
    for section in ("images", "annotations", "categories"):
        sections[section] = _field(document, section, list, str(json_path))
    categories = sorted(
        (_field(c, "id", int, f"{json_path}: category"), _field(c, "name", str, f"{json_path}: category"))
        for c in sections["categories"]
    )
    class_of = {category_id: index for index, (category_id, _) in enumerate(categories)}
    if not class_of:
        raise DataError(f"{json_path}: names no category")
    records = {}
    for record in sections["images"]:
        image_id = _field(record, "id", int, f"{json_path}: image")
        records[image_id] = _field(record, "file_name", str, f"{json_path}: image {image_id}")
    if not records:
        raise DataError(f"{json_path}: lists no image")
    order = sorted(records, key=lambda image_id: records[image_id])
    index_of = {image_id: i for i, image_id in enumerate(order)}
    images = np.empty((len(order), image_size, image_size, 3), dtype=np.uint8)
    sizes = []
    for i, image_id in enumerate(order):
        path = json_path.parent / records[image_id]
        if not path.is_file():
            raise DataError(
                f"{json_path}: image {image_id}: {records[image_id]} not found next to {json_path.name}"
            )
        images[i], size = _load(path, image_size, f"{json_path}: image {image_id}")
        sizes.append(size)
    image, labels, boxes = [], [], []
    for annotation in sections["annotations"]:
        annotation_id = _field(annotation, "id", int, f"{json_path}: annotation")
        where = f"{json_path}: annotation {annotation_id}"
        if annotation.get("iscrowd", 0):
            continue
        image_id = _field(annotation, "image_id", int, where)
        category_id = _field(annotation, "category_id", int, where)
        if image_id not in index_of:
            raise DataError(f"{where}: image_id {image_id} names no image")
        if category_id not in class_of:
            raise DataError(
                f"{where}: unknown category_id {category_id} (categories: {', '.join(map(str, class_of))})"
            )
        bbox = _field(annotation, "bbox", list, where)
        if len(bbox) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in bbox):
            raise DataError(f"{where}: bbox must be 4 numbers [x, y, w, h] (got {bbox!r})")
        width, height = sizes[index_of[image_id]]
        x, y, w, h = bbox
        image.append(index_of[image_id])
        labels.append(class_of[category_id])
        boxes.append(_normalised_box(where, x / width, y / height, w / width, h / height))
    return images, *_table(image, labels, boxes), [name for _, name in categories]


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
