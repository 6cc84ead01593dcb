import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import cpu_env, shipped
from dlpipe import disk
from dlpipe.config import load_params
from dlpipe.data.augment import build_pipeline
from dlpipe.stages import augment, split


def test_same_seed_gives_byte_identical_output(project):
    root = project({"augment": {"copies": 2}})
    split.run(load_params())
    augment.run(load_params())
    first = (root / "data/classify/augmented/train.npz").read_bytes()
    first_preview = (root / "reports/classify/augment_preview.png").read_bytes()
    augment.run(load_params())
    assert (root / "data/classify/augmented/train.npz").read_bytes() == first
    assert (root / "reports/classify/augment_preview.png").read_bytes() == first_preview
    project({"augment": {"copies": 2, "seed": 1}})
    augment.run(load_params())
    assert (root / "data/classify/augmented/train.npz").read_bytes() != first


def test_originals_come_first_then_changed_copies(project):
    root = project({"augment": {"copies": 2, "rotate": {"p": 1.0, "limit": 30}}})
    split.run(load_params())
    augment.run(load_params())
    train = disk.load_arrays(root / "data/classify/split/train.npz")
    out = disk.load_arrays(root / "data/classify/augmented/train.npz")
    n = len(train["y"])
    assert out["x"].shape == (3 * n, *train["x"].shape[1:])
    np.testing.assert_array_equal(out["x"][:n], train["x"])
    np.testing.assert_array_equal(out["y"], np.tile(train["y"], 3))
    changed = (out["x"][n : 2 * n] != train["x"]).reshape(n, -1).any(axis=1).mean()
    assert changed > 0.9  # every copy was rotated


def _tile(image: np.ndarray) -> np.ndarray:
    """A 32x32 image as the preview shows it: 64x64, every pixel doubled (nearest neighbour)."""
    return image.repeat(2, axis=0).repeat(2, axis=1)


def test_preview_is_a_grid_of_originals_beside_copies(project):
    root = project({"augment": {"copies": 3, "preview_examples": 4, "rotate": {"p": 1.0, "limit": 30}}})
    split.run(load_params())
    augment.run(load_params())
    out = disk.load_arrays(root / "data/classify/augmented/train.npz")["x"][..., 0]
    n = len(out) // 4
    with Image.open(root / "reports/classify/augment_preview.png") as preview:
        assert preview.size == (4 * 64, 4 * 64)  # original + 3 copies, 4 rows
        assert preview.mode == "L"
        pixels = np.asarray(preview)
    for row in range(4):
        for column in range(4):
            # column 0: original `row`; column c: its c-th augmented copy (copy-major order)
            expected = _tile(out[column * n + row])
            tile = pixels[row * 64 : (row + 1) * 64, column * 64 : (column + 1) * 64]
            np.testing.assert_array_equal(tile, expected, err_msg=f"row {row}, column {column}")
    tiles = pixels.reshape(4, 64, 4, 64).transpose(0, 2, 1, 3)  # [row, column]
    for row in range(4):  # every copy was rotated: no column repeats the original
        assert not any(np.array_equal(tiles[row, 0], tiles[row, column]) for column in range(1, 4))


def _colour_project(project, colour: dict) -> np.ndarray:
    """Originals and their one augmented copy, with only the colour transforms switched on."""
    settings = {"copies": 1, "crop": {"p": 0}, "rotate": {"p": 0}, **colour}
    root = project({"augment": settings, "data": {"channels": 3}})
    split.run(load_params())
    augment.run(load_params())
    out = disk.load_arrays(root / "data/classify/augmented/train.npz")["x"].astype(int)
    n = len(out) // 2
    return out[:n], out[n:]


def test_colour_shift_adds_one_offset_per_channel_within_shift(project):
    originals, copies = _colour_project(project, {"color_shift": {"p": 1.0, "shift": 20}})
    shifts = np.zeros((len(originals), 3), dtype=int)
    for i, (original, copy) in enumerate(zip(originals, copies, strict=True)):
        for channel in range(3):
            # pixels that no shift of at most 20 can push out of [0, 255]
            unclipped = (original[..., channel] >= 20) & (original[..., channel] <= 235)
            offsets = np.unique((copy - original)[..., channel][unclipped])
            assert len(offsets) == 1, (i, channel, offsets)  # the whole plane moves together
            shifts[i, channel] = offsets[0]
    assert np.abs(shifts).max() <= 20
    assert np.abs(shifts).max() >= 15  # the range is used, not a token change
    # each channel's mean moves, by its own amount: R, G and B are shifted independently
    moved = (copies.mean(axis=(1, 2)) != originals.mean(axis=(1, 2))).mean(axis=0)
    assert (moved > 0.9).all(), moved
    assert (shifts[:, 0] != shifts[:, 1]).mean() > 0.8 and (shifts[:, 1] != shifts[:, 2]).mean() > 0.8


def test_fancy_pca_moves_colours_along_the_principal_component():
    # Pixels spread along one colour direction, (1, -1, 0): the image's only principal component.
    rng = np.random.default_rng(0)
    spread = rng.uniform(-1, 1, (32, 32, 1))
    image = (128 + spread * np.array([40, -40, 0])).round().astype(np.uint8)
    settings = shipped("augment", crop={"p": 0}, rotate={"p": 0}, fancy_pca={"p": 1.0, "alpha": 20.0})
    pipeline = build_pipeline(settings, 32, 3)
    largest = 0
    for _ in range(5):
        delta = pipeline(image=image)["image"].astype(int) - image
        assert np.abs(delta[..., 2]).max() <= 1  # nothing along blue, off the component
        assert np.abs(delta[..., 0] + delta[..., 1]).max() <= 1  # red and green move oppositely
        largest = max(largest, np.abs(delta).max())
    assert largest >= 5


def test_fancy_pca_of_grey_digits_in_rgb_keeps_them_grey(project):
    originals, copies = _colour_project(project, {"fancy_pca": {"p": 1.0, "alpha": 20.0}})
    delta = copies - originals
    # R = G = B: the only principal component is (1, 1, 1), so every channel moves alike
    assert (delta[..., 0] == delta[..., 1]).all() and (delta[..., 1] == delta[..., 2]).all()
    assert (np.abs(delta).reshape(len(delta), -1).max(axis=1) > 0).mean() > 0.9


def test_grey_images_are_untouched_by_colour_augmentation(project):
    colour = {"color_shift": {"p": 1.0, "shift": 50}, "fancy_pca": {"p": 1.0, "alpha": 20.0}}
    root = project({"augment": {"copies": 1, "crop": {"p": 0}, "rotate": {"p": 0}, **colour}})
    split.run(load_params())
    augment.run(load_params())
    out = disk.load_arrays(root / "data/classify/augmented/train.npz")["x"]
    n = len(out) // 2
    assert out.shape[3] == 1
    np.testing.assert_array_equal(out[n:], out[:n])


def test_torch_free_stages_do_not_import_torch():
    code = (
        "import sys, dlpipe.__main__, dlpipe.stages.split, dlpipe.stages.augment, "
        "dlpipe.stages.leaderboard, dlpipe.data.sources;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning', 'mlflow'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cpu_env())
    assert result.stdout.strip() == "[]", result.stderr
