"""The stylize stage and `dlpipe stylize`: the gallery, its judged metrics and MLflow run, and
the style settings read through the stage."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli, write_params
from dlpipe import disk, tracking
from dlpipe.config import load_params
from dlpipe.stages import stylize
from dlpipe.style import colour, images

STYLE = {"image_size": 32, "steps": 3, "gallery": {"contents": ["coffee", "chelsea"], "styles": ["grass"]}}


def _gallery(root: Path, style: dict) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    write_params(root, {"style": style})
    with contextlib.chdir(root):
        params = load_params()
        stylize.run(params)
        return disk.read_json(Path("reports/style/metrics.json"))


def test_the_gallery_holds_every_pair_judged_and_logs_its_loss_curves(tmp_path: Path):
    metrics = _gallery(tmp_path, STYLE)
    assert set(metrics["pairs"]) == {"coffee/grass", "chelsea/grass"}
    for found in metrics["pairs"].values():
        for key in ("drop_result", "drop_matched", "ssim_result", "luminance_drop_result", "seconds"):
            assert isinstance(found[key], float), key
        assert found["targets_met"] == (
            found["drop_result"] >= 60
            and found["drop_result"] - found["drop_matched"] >= 15
            and found["ssim_result"] >= 0.4
        )
    assert metrics["summary"]["pairs"] == 2
    assert metrics["summary"]["mean_drop_result"] == pytest.approx(
        np.mean([p["drop_result"] for p in metrics["pairs"].values()]), abs=0.01
    )
    gallery = Image.open(tmp_path / "reports/style/gallery.png")
    assert gallery.height > gallery.width  # two rows of results under a row of styles; two columns
    with contextlib.chdir(tmp_path):
        params = load_params()
        client = tracking.client(params.tracking)
        (run,) = client.search_runs(
            [tracking.experiment_id(params.tracking)], "attributes.run_name = 'style_gallery'"
        )
        curve = client.get_metric_history(run.info.run_id, "loss.coffee.grass")
        assert len(curve) >= 3 and [m.step for m in curve] == list(range(len(curve)))
        assert run.data.metrics["coffee.grass.drop_result"] == metrics["pairs"]["coffee/grass"]["drop_result"]
        assert run.data.params["style.steps"] == "3"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"gallery.png", "losses.png", "metrics.json"}


def test_style_steps_is_read_by_the_stage(tmp_path: Path):
    few = _gallery(tmp_path / "few", STYLE | {"steps": 1})
    more = _gallery(tmp_path / "more", STYLE | {"steps": 12})
    assert more["pairs"]["coffee/grass"]["drop_result"] > few["pairs"]["coffee/grass"]["drop_result"]


def test_preserve_colour_keeps_the_contents_colours_and_is_judged_on_luminance(tmp_path: Path):
    write_params(tmp_path, {"style": STYLE | {"preserve_colour": True, "steps": 12}})
    result = run_cli("stylize", "coffee", "grass", "-o", "out.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32) / 255
    made = colour.rgb_to_yiq(torch.from_numpy(out).permute(2, 0, 1)[None])
    content = colour.rgb_to_yiq(images.load("coffee", 32))
    assert float((made[:, 1:] - content[:, 1:]).abs().mean()) < 0.01  # I and Q: the content's
    assert float((made[:, :1] - content[:, :1]).abs().mean()) > 0.05  # Y: changed
    metrics = _gallery(tmp_path / "gallery", STYLE | {"preserve_colour": True})
    assert all("luminance_drop_vs_imitated" in found for found in metrics["pairs"].values())


def test_one_image_is_written_at_the_settings_size(project):
    root = project({"style": STYLE | {"image_size": 40}})
    result = run_cli("stylize", "chelsea", "brick", "-o", "cat.png", cwd=root)
    assert result.returncode == 0, result.stderr
    assert Image.open(root / "cat.png").size == (40, 40)
    assert result.stdout.startswith("cat.png: style distance down ")
    assert not (root / "reports/style").exists()


@pytest.mark.parametrize(
    ("style", "args", "message"),
    [
        (
            {"content_layer": "conv4_2"},
            (),
            "params.yaml: style.content_layer: random_multiscale has no layer",
        ),
        (
            {"style_layers": {"k9": 1.0}},
            (),
            "params.yaml: style.style_layers: random_multiscale has no layer 'k9'",
        ),
        ({"gallery": {"contents": ["mona_lisa"], "styles": ["grass"]}}, (), "image 'mona_lisa': neither"),
        ({"extractor": "vgg19"}, (), "VGG-19 weights not found at "),
        ({}, ("coffee",), "stylize: give CONTENT, STYLE and -o OUT.png together (or none: the gallery)"),
    ],
    ids=["content-layer", "style-layer", "unknown-image", "no-vgg19-weights", "half-the-arguments"],
)
def test_a_bad_style_setting_is_one_line_and_nothing_is_written(project, monkeypatch, style, args, message):
    root = project({"style": STYLE | style})
    monkeypatch.setenv("TORCH_HOME", str(root / "torch-cache"))  # no weights there
    result = run_cli("stylize", *args, cwd=root)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr
    assert not (root / "reports/style").exists()
    assert not (root / "torch-cache").exists()  # nothing downloaded


def test_the_shipped_gallery_names_built_in_images_only():
    shipped = json.loads(
        json.dumps(load_params(Path(__file__).parents[1] / "params.yaml").style.gallery.model_dump())
    )
    assert set(shipped["contents"]) <= set(images.CONTENTS) and set(shipped["styles"]) <= set(images.STYLES)


@pytest.mark.parametrize(
    "changed",
    [
        {"alpha": 5.0},
        {"beta": 20.0},
        {"tv_weight": 50.0},
        {"optimizer": "adam"},
        {"optimizer": "adam", "lr": 0.01},
        {"init": "noise"},
        {"init": "noise", "seed": 1},
        {"content_layer": "k3"},
        {"style_layers": {"k3": 1.0, "k23": 0.5}},
        {"extractor": "random_vgg19"},
    ],
    ids=lambda changed: ",".join(f"{k}={v}" for k, v in changed.items()),
)
def test_each_style_setting_changes_the_image_the_command_writes(project, changed):
    """The same pair with one setting changed (adam's lr and the seed of a noise start, against
    adam and noise) is another image."""
    root = project()

    def written(style: dict) -> bytes:
        write_params(root, {"style": STYLE | {"steps": 12} | style})  # 3 iterations barely move a pixel
        with contextlib.chdir(root):
            stylize.one(load_params(), "coffee", "grass", Path("out.png"))
        return (root / "out.png").read_bytes()

    base = {k: v for k, v in changed.items() if k in ("optimizer", "init")} if len(changed) > 1 else {}
    assert written(changed) != written(base)
