import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, shipped
from dlpipe import disk
from dlpipe.config import load_params
from dlpipe.data.split import normalization_stats, stratified_split
from dlpipe.stages import split


def _outputs(root: Path) -> dict[str, bytes]:
    files = [
        *sorted((root / "data" / "classify" / "split").iterdir()),
        root / "reports" / "classify" / "split.json",
    ]
    return {f.name: f.read_bytes() for f in files}


def test_split_is_stratified_6_2_2(project):
    root = project()
    split.run(load_params())
    report = json.loads((root / "reports" / "classify" / "split.json").read_text())
    totals = {name: sum(counts.values()) for name, counts in report["counts"].items()}
    assert totals == {"train": 1077, "val": 360, "test": 360}
    for cls in report["names"]:
        n = sum(report["counts"][s][cls] for s in ("train", "val", "test"))
        for name, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
            assert abs(report["counts"][name][cls] - share * n) <= 1.5, (cls, name)


def test_split_indices_are_disjoint_and_cover_everything():
    labels = np.repeat(np.arange(3), 20)
    parts = stratified_split(labels, shipped("data").ratios, seed=0).indices
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(60))


def test_same_seed_gives_identical_bytes_other_seed_differs(project, tmp_path):
    root = project()
    split.run(load_params())
    first = _outputs(root)
    split.run(load_params())
    assert _outputs(root) == first
    project({"data": {"seed": 7}})
    split.run(load_params())
    assert _outputs(root)["train.npz"] != first["train.npz"]


def test_normalization_comes_from_train_only(project):
    root = project()
    split.run(load_params())
    train = disk.load_arrays(root / "data" / "classify" / "split" / "train.npz")["x"] / 255.0
    stats = disk.read_json(root / "data" / "classify" / "split" / "normalization.json")
    assert stats["mean"][0] == pytest.approx(train.mean(), abs=1e-6)
    assert stats["std"][0] == pytest.approx(train.std(), abs=1e-6)


@pytest.mark.parametrize("shape", [(50, 9, 7, 3), (4, 256, 300, 3)], ids=["one block", "blocks and a part"])
def test_normalization_stats_are_each_channels_mean_and_std_in_float64(shape):
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    images[..., 2] //= 4  # channels that differ
    pixels = images.reshape(-1, 3) / 255.0
    stats = normalization_stats(images)
    assert stats["mean"] == pixels.mean(axis=0).round(6).tolist()
    assert stats["std"] == pixels.std(axis=0).round(6).tolist()


def test_faces_source_is_binary_and_resized(project):
    root = project({"data": {"source": "faces", "image_size": 28}})
    split.run(load_params())
    report = json.loads((root / "reports" / "classify" / "split.json").read_text())
    assert report["names"] == ["non_face", "face"]
    assert report["image_shape"] == [28, 28, 1]
    assert sum(report["counts"]["test"].values()) == 40


def _image_folder(root: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(0)
    folder = root / "images"
    for cls, mode in (("cat", "RGB"), ("dog", "L")):
        (folder / cls).mkdir(parents=True)
        for i in range(per_class):
            size = (20 + i, 30 + i)  # any size: resized to data.image_size
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = rng.integers(0, 255, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(folder / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return folder


def test_imagefolder_mixes_grey_and_colour_as_rgb(project):
    root = project()
    folder = _image_folder(root)
    project({"data": {"source": "imagefolder", "path": str(folder), "image_size": 16}})
    split.run(load_params())
    report = json.loads((root / "reports" / "classify" / "split.json").read_text())
    assert report["names"] == ["cat", "dog"]
    assert report["image_shape"] == [16, 16, 3]
    assert report["skipped_images"] == 0


def test_unreadable_image_is_an_error_naming_the_file(project):
    root = project()
    folder = _image_folder(root)
    (folder / "dog" / "broken.png").write_bytes(b"not a png")
    project({"data": {"source": "imagefolder", "path": str(folder), "image_size": 16}})
    result = run_cli("split", cwd=root)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{folder / 'dog' / 'broken.png'}: cannot read image")
    assert result.stderr.count("\n") == 1
    assert not (root / "data").exists() and not (root / "reports").exists()


def test_unreadable_image_can_be_skipped_and_counted(project):
    root = project()
    folder = _image_folder(root)
    (folder / "dog" / "broken.png").write_bytes(b"not a png")
    project(
        {"data": {"source": "imagefolder", "path": str(folder), "image_size": 16, "on_bad_image": "skip"}}
    )
    split.run(load_params())
    report = json.loads((root / "reports" / "classify" / "split.json").read_text())
    assert report["skipped_images"] == 1
    assert report["skipped_files"] == [str(folder / "dog" / "broken.png")]
    assert sum(sum(c.values()) for c in report["counts"].values()) == 20


def test_missing_folder_is_one_line(project):
    root = project({"data": {"source": "imagefolder", "path": "nowhere"}})
    result = run_cli("split", cwd=root)
    assert result.returncode == 2
    assert result.stderr == "nowhere: data.path is not a folder\n"
