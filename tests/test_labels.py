from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlpipe.data.labels import read_points, read_yolo
from dlpipe.errors import DataError


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    """Four images: a boxed cat (png), a boxed dog (jpg), an empty label file, no label file."""
    root = tmp_path / "scenes"
    _image(root / "images/a.png", (40, 20), (255, 0, 0))
    _image(root / "images/b.jpg", (30, 30), (0, 0, 255))
    _image(root / "images/c.png", (16, 16), (0, 255, 0))
    _image(root / "images/d.jpeg", (16, 16), (9, 9, 9))
    (root / "labels").mkdir()
    (root / "classes.txt").write_text("cat\ndog\n")
    (root / "labels/a.txt").write_text("0 0.5 0.5 0.25 0.5\n")
    (root / "labels/b.txt").write_text("\n1 0.2 0.7 0.4 0.6\n\n")
    (root / "labels/c.txt").write_text("")
    return root


def _yolo_error(root: Path, label: str) -> str:
    (root / "labels/a.txt").write_text(label)
    with pytest.raises(DataError) as exc:
        read_yolo(root, 8)
    return str(exc.value)


def test_yolo_folder_reads_boxes_labels_and_background_images(yolo):
    images, present, labels, boxes, class_names = read_yolo(yolo, 8)
    assert class_names == ["cat", "dog"]
    assert images.shape == (4, 8, 8, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], np.full((8, 8, 3), (255, 0, 0)))  # resized, colour kept
    np.testing.assert_array_equal(present, [1, 1, 0, 0])
    np.testing.assert_array_equal(labels, [0, 1, 0, 0])
    np.testing.assert_allclose(
        boxes, [[0.5, 0.5, 0.25, 0.5], [0.2, 0.7, 0.4, 0.6], [0, 0, 0, 0], [0, 0, 0, 0]]
    )
    assert present.dtype == labels.dtype == np.int64 and boxes.dtype == np.float32


def test_a_box_edge_past_the_border_by_rounding_is_clipped(yolo):
    (yolo / "labels/a.txt").write_text("0 0.1 0.5 0.2000005 0.5\n")
    boxes = read_yolo(yolo, 8)[3]
    np.testing.assert_allclose(boxes[0], [0.10000012, 0.5, 0.20000025, 0.5], atol=1e-7)
    assert boxes[0, 0] - boxes[0, 2] / 2 >= 0


def test_a_line_that_is_not_five_numbers_is_one_line_error(yolo):
    message = _yolo_error(yolo, "x 0.5\n")
    assert message == f"{yolo / 'labels/a.txt'}:1: expected 5 numbers 'class cx cy w h' (got 'x 0.5')"


def test_an_unknown_class_id_is_one_line_error(yolo):
    message = _yolo_error(yolo, "\n2 0.5 0.5 0.2 0.2\n")
    assert message == f"{yolo / 'labels/a.txt'}:2: unknown class id 2 (classes.txt names 0..1)"


def test_a_box_outside_the_image_is_one_line_error(yolo):
    message = _yolo_error(yolo, "0 0.9 0.5 0.4 0.2\n")
    assert message == (
        f"{yolo / 'labels/a.txt'}:1: box outside the image (x 0.7..1.1, y 0.4..0.6; edges must lie in [0, 1])"
    )


def test_a_degenerate_box_is_one_line_error(yolo):
    message = _yolo_error(yolo, "0 0.5 0.5 0 0.2\n")
    assert message == f"{yolo / 'labels/a.txt'}:1: degenerate box (w=0, h=0.2; both must be > 0)"


def test_a_second_object_is_one_line_error(yolo):
    message = _yolo_error(yolo, "0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    assert message == f"{yolo / 'labels/a.txt'}:2: one object per image (this file already holds a box)"


def test_a_missing_classes_file_is_one_line_error(yolo):
    (yolo / "classes.txt").unlink()
    with pytest.raises(DataError) as exc:
        read_yolo(yolo, 8)
    assert str(exc.value) == f"{yolo / 'classes.txt'}: not found (one class name per line)"


def test_a_label_file_without_its_image_is_one_line_error(yolo):
    (yolo / "labels/zebra.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError) as exc:
        read_yolo(yolo, 8)
    assert (
        str(exc.value) == f"{yolo / 'labels/zebra.txt'}: no image zebra.png/.jpg/.jpeg in {yolo / 'images'}"
    )


@pytest.fixture
def points_csv(tmp_path: Path) -> Path:
    _image(tmp_path / "faces/one.png", (40, 20), (200, 10, 10))
    _image(tmp_path / "faces/two.png", (10, 10), (10, 200, 10))
    path = tmp_path / "points.csv"
    path.write_text("image,x1,y1,x2,y2\nfaces/one.png,10,5,40,20\n\nfaces/two.png,0,0,2.5,7.5\n")
    return path


def _points_error(path: Path, text: str) -> str:
    path.write_text(text)
    with pytest.raises(DataError) as exc:
        read_points(path, 8)
    return str(exc.value)


def test_points_csv_reads_points_normalised_by_the_original_size(points_csv):
    images, points = read_points(points_csv, 8)
    assert images.shape == (2, 8, 8, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[1], np.full((8, 8, 3), (10, 200, 10)))
    assert points.dtype == np.float32
    np.testing.assert_allclose(points, [[[0.25, 0.25], [1.0, 1.0]], [[0.0, 0.0], [0.25, 0.75]]])


def test_a_header_without_a_point_column_is_one_line_error(points_csv):
    message = _points_error(points_csv, "image,x1,y1,x2\nfaces/one.png,1,1,1\n")
    assert message == f"{points_csv}: header needs image,x1,y1,...,xK,yK (missing y2)"


def test_a_value_that_is_not_a_number_is_one_line_error(points_csv):
    message = _points_error(points_csv, "image,x1,y1,x2,y2\nfaces/one.png,1,1,1,1\nfaces/two.png,1,1,1,\n")
    assert message == f"{points_csv}:3: y2 is not a number ('')"


def test_a_point_outside_the_image_is_one_line_error(points_csv):
    message = _points_error(points_csv, "image,x1,y1,x2,y2\nfaces/one.png,1,1,41,3\n")
    assert message == f"{points_csv}:2: point 2 (41, 3) lies outside the 40×20 image"


def test_a_missing_image_is_one_line_error(points_csv):
    message = _points_error(points_csv, "image,x1,y1,x2,y2\nfaces/three.png,1,1,1,1\n")
    assert message == f"{points_csv}:2: image not found ('faces/three.png' next to points.csv)"
