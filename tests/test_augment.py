import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import cpu_env
from dlpipe import disk
from dlpipe.config import load_params
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


def test_preview_is_a_grid_of_originals_beside_copies(project):
    root = project({"augment": {"copies": 3, "preview_examples": 4}})
    split.run(load_params())
    augment.run(load_params())
    with Image.open(root / "reports/classify/augment_preview.png") as preview:
        assert preview.size == (4 * 64, 4 * 64)  # original + 3 copies, 4 rows


def test_colour_shift_changes_colour_images(project):
    params = {"augment": {"copies": 1, "crop": {"p": 0}, "rotate": {"p": 0}, "color_shift": {"p": 1.0}}}
    root = project({**params, "data": {"channels": 3}})
    split.run(load_params())
    augment.run(load_params())
    out = disk.load_arrays(root / "data/classify/augmented/train.npz")["x"]
    n = len(out) // 2
    assert (out[n:] != out[:n]).any()


def test_torch_free_stages_do_not_import_torch():
    code = (
        "import sys, dlpipe.__main__, dlpipe.stages.split, dlpipe.stages.augment, "
        "dlpipe.stages.leaderboard, dlpipe.data.sources;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning', 'mlflow'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cpu_env())
    assert result.stdout.strip() == "[]", result.stderr
