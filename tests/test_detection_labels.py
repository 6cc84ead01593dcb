"""Detection data people bring: YOLO folders with several objects per image and COCO JSON files.
Each problem is one line naming the file and line, or the annotation id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlpipe.data.labels import read_coco, read_yolo_objects
from dlpipe.errors import DataError


def _image(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 10, 10)).save(path)


def test_a_yolo_folder_gives_every_object_of_every_image(tmp_path):
    _image(tmp_path / "images/a.png", (40, 20))
    _image(tmp_path / "images/b.png", (30, 30))
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/a.txt").write_text("0 0.5 0.5 0.25 0.5\n1 0.2 0.3 0.2 0.2\n")
    images, image, labels, boxes, names = read_yolo_objects(tmp_path, 8)
    assert images.shape == (2, 8, 8, 3) and names == ["cat", "dog"]
    np.testing.assert_array_equal(image, [0, 0])  # b.png: background only
    np.testing.assert_array_equal(labels, [0, 1])
    np.testing.assert_allclose(boxes, [[0.5, 0.5, 0.25, 0.5], [0.2, 0.3, 0.2, 0.2]])
    (tmp_path / "labels/b.txt").write_text("0 0.5 0.5 0.2 0.2\n\n2 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError, match=r"b\.txt:3: unknown class id 2 \(classes.txt names 0..1\)$"):
        read_yolo_objects(tmp_path, 8)


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    _image(tmp_path / "pics/one.png", (100, 50))
    _image(tmp_path / "pics/two.png", (20, 20))
    document = {
        "images": [{"id": 7, "file_name": "pics/two.png"}, {"id": 3, "file_name": "pics/one.png"}],
        "categories": [{"id": 9, "name": "dog"}, {"id": 2, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 9, "bbox": [10, 5, 20, 10]},
            {"id": 2, "image_id": 3, "category_id": 2, "bbox": [0, 0, 100, 50]},
            {"id": 3, "image_id": 7, "category_id": 2, "bbox": [5, 5, 1, 1], "iscrowd": 1},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(document))
    return path


def test_a_coco_file_gives_its_objects_with_classes_in_category_id_order(coco):
    images, image, labels, boxes, names = read_coco(coco, 8)
    assert names == ["cat", "dog"]  # by category id: 2, then 9
    assert images.shape == (2, 8, 8, 3)  # in file name order: one.png, two.png
    np.testing.assert_array_equal(image, [0, 0])  # the crowd region is skipped
    np.testing.assert_array_equal(labels, [1, 0])
    np.testing.assert_allclose(boxes, [[0.2, 0.2, 0.2, 0.2], [0.5, 0.5, 1.0, 1.0]])


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["annotations"][0].update(category_id=4),
            "annotation 1: unknown category_id 4 (categories: 2, 9)",
        ),
        (
            lambda d: d["annotations"][1].update(bbox=[10, 5, 0, 10]),
            "annotation 2: degenerate box (w=0, h=0.2; both must be > 0)",
        ),
        (
            lambda d: d["annotations"][0].update(bbox=[90, 5, 20, 10]),
            "annotation 1: box outside the image (x 0.9..1.1, y 0.1..0.3; edges must lie in [0, 1])",
        ),
        (lambda d: d["annotations"][0].update(image_id=5), "annotation 1: image_id 5 names no image"),
        (
            lambda d: d["annotations"][1].update(bbox=[1, 2, 3]),
            "annotation 2: bbox must be 4 numbers [x, y, w, h] (got [1, 2, 3])",
        ),
        (
            lambda d: d["images"][0].update(file_name="pics/none.png"),
            "image 7: pics/none.png not found next to instances.json",
        ),
        (lambda d: d.pop("categories"), "needs 'categories' (None found)"),
    ],
)
def test_a_broken_coco_file_is_one_line_naming_the_annotation(coco, change, message):
    document = json.loads(coco.read_text())
    change(document)
    coco.write_text(json.dumps(document))
    with pytest.raises(DataError) as error:
        read_coco(coco, 8)
    assert str(error.value) == f"{coco}: {message}"


def test_a_coco_file_that_is_not_json_names_its_line(coco):
    coco.write_text('{\n "images": [\n')
    with pytest.raises(DataError, match=r"instances\.json:3: not valid JSON"):
        read_coco(coco, 8)
