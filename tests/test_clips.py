"""The clips family: the built-in moving digits (the direction is in the order of the frames,
not in their average), the 3-D networks, user clips from folders, and the stages."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from conftest import run_cli, write_params
from dlpipe import disk
from dlpipe.config import load_params
from dlpipe.data.clips import DIRECTIONS, make_clips
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.models.registry import build_model
from dlpipe.stages import augment, evaluate, export, split, train


def _moved(before: np.ndarray, after: np.ndarray, step: tuple[int, int]) -> float:
    """How well ``after`` matches ``before`` moved by ``step`` (row, column) pixels."""
    shifted = np.roll(before.astype(np.float64), step, axis=(0, 1))
    return float((shifted * after).sum())


def test_the_labelled_digit_moves_speed_pixels_a_frame_in_its_direction():
    speed = 2
    made = make_clips(40, frames=8, image_size=32, speed=speed, seed=3)
    steps = {"right": (0, speed), "left": (0, -speed), "down": (speed, 0), "up": (-speed, 0)}
    found = []
    for clip, label in zip(made.clips[..., 0], made.labels, strict=True):
        # the jumping digit's moves point anywhere; the moving one's all the same way
        scores = {
            name: sum(_moved(clip[t], clip[t + 1], step) for t in range(len(clip) - 1))
            for name, step in steps.items()
        }
        found.append(max(scores, key=scores.get) == DIRECTIONS[label])
    assert np.mean(found) >= 0.95
    assert np.bincount(made.labels).tolist() == [10, 10, 10, 10]


def test_the_average_of_a_clips_frames_does_not_tell_its_direction():
    made = make_clips(2400, frames=8, image_size=32, speed=2, seed=0)
    averages = made.clips.mean(axis=(1, 4)).reshape(len(made.clips), -1) / 255
    model = LogisticRegression(max_iter=300).fit(averages[:1800], made.labels[:1800])
    accuracy = model.score(averages[1800:], made.labels[1800:])
    assert accuracy < 0.25 + 0.08  # chance is 0.25


def test_a_path_longer_than_the_frame_is_refused_in_one_line(project):
    with pytest.raises(ValueError, match="leaves a 16-pixel frame"):
        make_clips(8, frames=8, image_size=16, speed=2, seed=0)
    root = project({"clips": {"data": {"frames": 8, "image_size": 16, "speed": 2}}})
    result = run_cli("split", "clips", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "params.yaml: clips.data (frames, image_size, speed): a 6-pixel digit moving 2 pixels "
        "over 8 frames leaves a 16-pixel frame: "
        "fewer frames, a lower speed or larger images"
    )


@pytest.mark.parametrize("arch", ["c3d", "r2plus1d", "frame_average"])
def test_the_clip_networks_take_any_number_of_frames(arch):
    torch.manual_seed(0)
    network = build_model(arch, 1, 4, 16, {"widths": [4, 8], "hidden": 8}).eval()
    for frames in (4, 7):
        assert network(torch.randn(3, 1, frames, 16, 16)).shape == (3, 4)


def test_the_frame_average_baseline_cannot_see_the_frames_order_and_a_3d_network_can():
    torch.manual_seed(0)
    clips = torch.randn(2, 1, 6, 16, 16)
    reversed_clips = clips.flip(dims=[2])
    options = {"widths": [4, 8], "hidden": 8}
    baseline = build_model("frame_average", 1, 4, 16, options).eval()
    network = build_model("c3d", 1, 4, 16, options).eval()
    with torch.no_grad():
        torch.testing.assert_close(baseline(clips), baseline(reversed_clips))
        assert not torch.allclose(network(clips), network(reversed_clips), atol=1e-4)


def test_an_image_architecture_in_clips_and_a_clip_architecture_elsewhere_are_one_line(project):
    root = project({"clips": {"models": {"lenet_clips": {"arch": "lenet5"}}}})
    result = run_cli("split", "clips", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "params.yaml: clips.models.lenet_clips has architecture lenet5: "
        "a clips model needs one of c3d, frame_average, r2plus1d"
    )
    root = project({"models": {"video": {"arch": "c3d"}}})
    result = run_cli("split", cwd=root)
    assert result.stderr.strip() == (
        "params.yaml: models.video has architecture c3d, which only clips models take"
    )


def _folders(root: Path, shape: tuple[int, ...], per_class: int = 10) -> Path:
    data = root / "volumes"
    rng = np.random.default_rng(0)
    for name in ("ring", "solid"):
        (data / name).mkdir(parents=True)
        for i in range(per_class):
            np.save(data / name / f"{i}.npy", rng.integers(0, 255, shape, dtype=np.uint8))
    return data


def test_user_clips_from_folders_are_split_by_class_with_their_shape(project):
    root = project()
    data = _folders(root, (5, 12, 12))
    write_params(root, {"clips": {"data": {"source": "folders", "path": str(data)}}})
    result = run_cli("split", "clips", cwd=root)
    assert result.returncode == 0, result.stderr
    report = disk.read_json(root / "reports/clips/split.json")
    assert report["names"] == ["ring", "solid"]
    assert report["image_shape"] == [5, 12, 12, 1]
    assert report["examples"] == {"train": 12, "val": 4, "test": 4}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((5, 12, 12), dtype=np.float32), "dtype float32, expected uint8 (scale the values to 0-255"),
        (np.zeros((5, 12, 10), dtype=np.uint8), "shape (5, 12, 10), expected D×S×S or D×S×S×C"),
        (np.zeros((4, 12, 12), dtype=np.uint8), "shape (4, 12, 12, 1), but"),
    ],
    ids=["dtype", "not-square", "another-shape"],
)
def test_a_wrong_user_clip_is_one_line_naming_the_file_and_nothing_is_written(project, bad, message):
    root = project()
    data = _folders(root, (5, 12, 12))
    np.save(data / "solid" / "9.npy", bad)
    write_params(root, {"clips": {"data": {"source": "folders", "path": str(data)}}})
    result = run_cli("split", "clips", cwd=root)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{data / 'solid' / '9.npy'}: ")
    assert message in result.stderr
    assert not (root / "data/clips").exists() and not (root / "reports/clips").exists()


def test_augmented_copies_move_every_frame_of_a_clip_alike(project):
    root = project({"clips": {"augment": {"copies": 1, "crop": {"p": 1.0, "padding": 3}}}})
    with contextlib.chdir(root):
        params = load_params()
        split.run(params, "clips")
        augment.run(params, "clips")
        original = disk.load_arrays(Path("data/clips/split/train.npz"))["x"]
        augmented = disk.load_arrays(Path("data/clips/augmented/train.npz"))["x"]
    n = len(original)
    moved = 0
    for clip, copy in zip(original[:20, ..., 0], augmented[n : n + 20, ..., 0], strict=True):
        padded = np.pad(clip, ((0, 0), (3, 3), (3, 3)))
        offsets = {
            (dy, dx)
            for dy in range(7)
            for dx in range(7)
            if np.array_equal(padded[:, dy : dy + clip.shape[1], dx : dx + clip.shape[2]], copy)
        }
        assert offsets, "a copy that is no crop of its clip"
        moved += (3, 3) not in offsets
    assert moved >= 10  # most copies moved, each as one


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    models = {
        "c3d": {"options": {"widths": [4, 8], "hidden": 16}, "train": {"epochs": 1}},
        "r2plus1d": {"options": {"widths": [4, 8], "hidden": 16}, "train": {"epochs": 1}},
        "frame_average": {"options": {"widths": [4, 8], "hidden": 16}, "train": {"epochs": 1}},
    }
    write_params(root, {"clips": {"models": models, "examples": 3}})
    with contextlib.chdir(root):
        params = load_params()
        split.run(params, "clips")
        augment.run(params, "clips")
        for name in models:
            train.run(params, name)
            evaluate.run(params, name)
            export.run(params, name)
    return root


@pytest.mark.slow
def test_clip_metrics_are_the_accuracy_of_the_saved_model(trained: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(trained)
    for name in ("c3d", "r2plus1d", "frame_average"):
        model, spec = load_model(Path(f"models/{name}/model.pt"))
        assert spec["family"] == "clips" and spec["names"] == list(DIRECTIONS)
        x, y, _ = split_inputs("clips", "test")
        assert x.shape[1:] == (1, 4, 16, 16)  # N×C×D×H×W
        accuracy = float((predict_outputs(model, x).argmax(axis=1) == y).mean())
        metrics = disk.read_json(Path(f"reports/models/{name}/metrics.json"))
        assert metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert set(metrics["class_accuracy"]) == set(DIRECTIONS)
        assert Path(f"reports/models/{name}/clips.png").stat().st_size > 0
        summary = disk.read_json(Path(f"reports/models/{name}/train.json"))
        assert summary["family"] == "clips" and summary["macs_per_image"] > 0


@pytest.mark.slow
def test_clip_networks_export_to_onnx_with_the_eager_outputs(trained: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(trained)
    x, _, _ = split_inputs("clips", "test")
    for name in ("c3d", "r2plus1d", "frame_average"):
        model, _ = load_model(Path(f"models/{name}/model.pt"))
        onnx_file = f"models/{name}/model.onnx"
        session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
        exported = session.run(None, {"images": x.numpy()})[0]
        np.testing.assert_allclose(exported, predict_outputs(model, x), atol=1e-4)
        assert disk.read_json(Path(f"reports/models/{name}/export.json"))["onnx_max_abs_diff"] <= 1e-4


@pytest.mark.slow
def test_predict_reads_npy_clips_and_names_a_direction(trained: Path):
    test = disk.load_arrays(trained / "data/clips/split/test.npz")
    np.save(trained / "clip.npy", test["x"][0])
    np.save(trained / "wrong.npy", test["x"][0][:2])
    result = run_cli("predict", "clip.npy", "--model", "c3d", cwd=trained)
    assert result.returncode == 0, result.stderr
    shown = result.stdout.splitlines()[-1]
    assert shown.startswith("clip.npy: ") and shown.split()[1] in DIRECTIONS
    result = run_cli("predict", "wrong.npy", "--model", "c3d", cwd=trained)
    assert result.returncode == 2
    assert result.stderr.strip() == "wrong.npy: shape (2, 16, 16, 1), the model takes (4, 16, 16, 1)"


def test_the_clip_count_frames_size_and_speed_are_read_by_the_split_stage(project):
    root = project({"clips": {"data": {"clips": 40, "frames": 5, "image_size": 24, "speed": 3}}})
    with contextlib.chdir(root):
        split.run(load_params(), "clips")
        report = disk.read_json(Path("reports/clips/split.json"))
        train = disk.load_arrays(Path("data/clips/split/train.npz"))
    assert report["image_shape"] == [5, 24, 24, 1]
    assert sum(report["examples"].values()) == 40
    steps = {"right": (0, 3), "left": (0, -3), "down": (3, 0), "up": (-3, 0)}  # speed 3
    found = [
        max(steps, key=lambda name: sum(_moved(clip[t], clip[t + 1], steps[name]) for t in range(4)))
        == DIRECTIONS[label]
        for clip, label in zip(train["x"][..., 0], train["y"], strict=True)
    ]
    assert np.mean(found) >= 0.9


@pytest.mark.slow
def test_clips_examples_is_read_by_the_evaluate_stage(trained: Path, monkeypatch: pytest.MonkeyPatch):
    from PIL import Image

    monkeypatch.chdir(trained)
    heights = {}
    for examples in (1, 4):
        write_params(
            trained,
            {
                "clips": {
                    "models": {"c3d": {"options": {"widths": [4, 8], "hidden": 16}}},
                    "examples": examples,
                }
            },
        )
        evaluate.run(load_params(), "c3d")
        heights[examples] = Image.open("reports/models/c3d/clips.png").height
    assert heights[4] > 2 * heights[1]  # one strip a test clip
