"""Style transfer: the course's costs on hand-worked cases, their gradients, luminance-only
transfer, the offline VGG-19 weights, the built-in images and the optimisation itself."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dlpipe.errors import DataError
from dlpipe.style import extractors, images, judge
from dlpipe.style.colour import rgb_to_yiq
from dlpipe.style.costs import content_cost, gram, style_cost, total_variation
from dlpipe.style.transfer import StyleSettings, stylize

TINY = StyleSettings(image_size=32, steps=8)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_content_cost_is_the_squared_distance_over_four_times_the_map_size():
    a_C = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    # (1 + 4 + 9 + 16) / (4 * 1 * 2 * 2)
    assert content_cost(a_C, torch.zeros_like(a_C)).item() == pytest.approx(30 / 16)


def test_gram_is_the_channel_products_divided_by_channels_times_positions():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # 1x2x1x2
    # A·Aᵀ = [[1+4, 3+0], [3+0, 9+0]], divided by C·H·W = 4
    assert gram(features).tolist() == [[1.25, 0.75], [0.75, 2.25]]


def test_style_cost_equals_the_courses_normalisation_on_unnormalised_grams():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])
    # course: λ · 1/(2·n_C·n_H·n_W)² · Σ(G_S − G_G)², G_S = 0, G_G = [[5, 3], [3, 9]]: 2 · 124 / 8²
    assert style_cost([torch.zeros(2, 2)], [features], [2.0]).item() == pytest.approx(2 * 124 / 64)


def test_total_variation_is_the_mean_squared_neighbour_difference_both_ways():
    image = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])
    # across: (1, 0) -> 0.5; down: (1, 0) -> 0.5
    assert total_variation(image).item() == pytest.approx(1.0)


def test_the_gram_style_cost_has_the_gradient_of_its_finite_differences():
    generator = torch.Generator().manual_seed(0)
    grams_S = [gram(torch.rand(1, 3, 4, 4, generator=generator, dtype=torch.float64)) for _ in range(2)]
    feats_G = [
        torch.rand(1, 3, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True) for _ in range(2)
    ]
    assert torch.autograd.gradcheck(lambda a, b: style_cost(grams_S, [a, b], [1.0, 0.5]), feats_G)


def test_luminance_only_transfer_keeps_the_contents_chroma_and_changes_its_luminance():
    content, style = images.load("coffee", 32), images.load("grass", 32)
    result, _ = stylize(content, style, dataclasses.replace(TINY, preserve_colour=True))
    before, after = rgb_to_yiq(content), rgb_to_yiq(result)
    assert (after[:, 1:] - before[:, 1:]).abs().mean().item() < 0.01
    assert (after[:, :1] - before[:, :1]).abs().mean().item() > 0.02


def test_stylize_lowers_its_total_cost_and_repeats_itself_for_a_seed():
    content, style = images.load("chelsea", 32), images.load("brick", 32)
    first, history = stylize(content, style, TINY)
    again, _ = stylize(content, style, TINY)
    assert history[-1]["total"] < 0.5 * history[0]["total"]
    assert set(history[0]) == {"step", "total", "content", "style", "tv"}
    assert torch.equal(first, again)
    assert first.min().item() >= 0.0 and first.max().item() <= 1.0


def test_vgg19_reads_the_first_layers_from_a_fake_local_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", pytest.fail)
    weight = torch.arange(64 * 3 * 3 * 3, dtype=torch.float32).reshape(64, 3, 3, 3) / 1000
    bias = torch.linspace(-1, 1, 64)
    (tmp_path / "checkpoints").mkdir()
    torch.save(
        {"features.0.weight": weight, "features.0.bias": bias},
        tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth",
    )
    network = extractors.build("vgg19", ["conv1_1"])
    assert torch.equal(network.features[0].weight, weight) and torch.equal(network.features[0].bias, bias)
    (maps,) = network(torch.rand(1, 3, 16, 16))
    assert maps.shape == (1, 64, 16, 16)


def test_missing_vgg19_weights_name_the_cache_path_and_download_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", pytest.fail)
    monkeypatch.setattr(torch.hub, "download_url_to_file", pytest.fail)
    with pytest.raises(DataError) as raised:
        extractors.build("vgg19", ["conv1_1", "conv4_2"])
    message = str(raised.value)
    assert str(tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth") in message and "\n" not in message
    assert not (tmp_path / "checkpoints").exists()


def test_an_unknown_image_name_raises_one_line_listing_the_built_in_names():
    with pytest.raises(DataError) as raised:
        images.load("mona_lisa", 32)
    message = str(raised.value)
    assert "'mona_lisa'" in message and "astronaut" in message and "gravel" in message and "\n" not in message


def test_an_unreadable_file_raises_a_data_error_naming_it(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(DataError, match="broken.png"):
        images.load(str(broken), 32)


def test_built_in_images_load_as_square_rgb_in_the_unit_range_and_survive_a_png_round_trip(tmp_path):
    grass = images.load("grass", 24)
    assert grass.shape == (1, 3, 24, 24) and torch.equal(grass[:, 0], grass[:, 2])
    images.save(images.load("chelsea", 24), tmp_path / "chelsea.png")
    again = images.load(str(tmp_path / "chelsea.png"), 24)
    assert (again - images.load("chelsea", 24)).abs().max().item() <= 1 / 255 + 1e-6


def test_the_judge_puts_the_style_at_zero_and_the_unchanged_content_at_no_drop():
    content, style = images.load("chelsea", 64), images.load("brick", 64)
    assert judge.style_distance(style, style) == pytest.approx(0.0, abs=1e-9)
    found = judge.measure(content, style, content)
    assert found["drop_result"] == 0.0 and found["ssim_result"] == pytest.approx(1.0)
