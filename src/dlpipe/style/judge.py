"""Judging a stylised image honestly: by a texture descriptor of another family than the network
that was optimised.

A Gram distance under a random conv net like the extractor mostly measures colour statistics
(histogram matching alone "drops" it 49-99%). The judge here is a fixed bank of log-Gabor filters
(Gabor-like, zero at DC; 5 frequencies x 6 orientations, applied by FFT) whose modulus is the
phase-free band energy (like V1 complex cells), on luminance Y and on chroma I, Q of YIQ, plus the
Y, I, Q values themselves; energies and values are each scaled by one number from the style's
luminance. The distance is ‖G_image − G_style‖_F / ‖G_style‖_F over the Gram of all of them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from skimage.exposure import match_histograms
from skimage.metrics import structural_similarity
from torch.nn import functional

from dlpipe.style.colour import rgb_to_yiq
from dlpipe.style.costs import gram

FREQUENCIES = (0.04, 0.07, 0.12, 0.2, 0.35)  # cycles per pixel: from brick-sized to pixel-sized
ORIENTATIONS = 6
BANDWIDTH = 0.55  # log-Gabor radial sigma ratio: about two octaves, neighbouring bands overlap
PAD = 32  # reflected border, so that the FFT's wrap-around does not add edges


@cache
def _bank(side: int) -> torch.Tensor:
    """FREQUENCIES·ORIENTATIONS one-sided log-Gabor filters on a side x side FFT grid: zero at DC,
    peak gain 1; the modulus of the filtered image is the phase-free band energy."""
    frequency = torch.fft.fftfreq(side, dtype=torch.float64)
    fy, fx = torch.meshgrid(frequency, frequency, indexing="ij")
    radius = (fx.pow(2) + fy.pow(2)).sqrt().clamp_min(1e-9)
    angle = torch.atan2(fy, fx)
    filters = []
    for centre in FREQUENCIES:
        radial = torch.exp(-torch.log(radius / centre).pow(2) / (2 * np.log(BANDWIDTH) ** 2))
        radial[0, 0] = 0.0
        for index in range(ORIENTATIONS):
            offset = torch.remainder(angle - np.pi * index / ORIENTATIONS + np.pi, 2 * np.pi) - np.pi
            spread = np.pi / ORIENTATIONS / 1.2
            filters.append(radial * torch.exp(-offset.pow(2) / (2 * spread**2)))
    return torch.stack(filters)


def _features(image: torch.Tensor, luminance_only: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The band energies of each YIQ plane (Y only if ``luminance_only``), and the planes themselves."""
    yiq = rgb_to_yiq(image.detach().double())[0]
    planes = yiq[:1] if luminance_only else yiq
    height, width = planes.shape[-2:]
    pad = min(PAD, height - 1, width - 1)  # reflection cannot reach past the opposite edge
    padded = functional.pad(planes.unsqueeze(0), [pad] * 4, mode="reflect")[0]
    spectrum = torch.fft.fft2(padded).unsqueeze(1) * _bank(padded.shape[-1]).unsqueeze(0)
    energies = torch.fft.ifft2(spectrum).abs()[..., pad : pad + height, pad : pad + width]
    return energies.flatten(0, 1), planes


def _rms(maps: torch.Tensor) -> torch.Tensor:
    return maps.pow(2).mean().sqrt()


def style_distance(image: torch.Tensor, style: torch.Tensor, luminance_only: bool = False) -> float:
    """Relative Gram distance of the image's features to the style's (0: same statistics).

    Energies and plane values are each divided by one scale taken from the style's luminance, so
    that both kinds weigh alike, and a grey style's (absent) chroma is no division by zero."""
    energies_style, planes_style = _features(style, luminance_only)
    energy_scale, plane_scale = _rms(energies_style[: len(FREQUENCIES) * ORIENTATIONS]), _rms(planes_style[0])
    grams = []
    for energies, planes in (_features(image, luminance_only), (energies_style, planes_style)):
        grams.append(gram(torch.cat([energies / energy_scale, planes / plane_scale])))
    return float(torch.linalg.matrix_norm(grams[0] - grams[1]) / torch.linalg.matrix_norm(grams[1]))


def histogram_matched(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The baseline that adds no texture: the content with each RGB channel's histogram matched to the
    style's."""
    matched = match_histograms(content[0].numpy(), style[0].numpy(), channel_axis=0)
    return torch.from_numpy(np.asarray(matched, dtype=np.float32)).unsqueeze(0)


def luminance_ssim(image: torch.Tensor, content: torch.Tensor) -> float:
    """Structural similarity of the luminance planes (data range 1): how much of the content is kept."""
    first, second = (rgb_to_yiq(picture.detach().double())[0, 0].numpy() for picture in (image, content))
    return float(structural_similarity(first, second, data_range=1.0))


def _drop(before: float, after: float) -> float:
    return round(100 * (before - after) / before, 1)


def measure(content: torch.Tensor, style: torch.Tensor, result: torch.Tensor) -> dict[str, float]:
    """Style distances (colour and luminance-only judges) of the content, of its histogram-matched
    version and of the result; their drops in % from the content's; luminance SSIM vs the content."""
    matched = histogram_matched(content, style)
    found: dict[str, float] = {}
    for prefix, luminance_only in (("", False), ("luminance_", True)):
        before = style_distance(content, style, luminance_only)
        matched_distance = style_distance(matched, style, luminance_only)
        result_distance = style_distance(result, style, luminance_only)
        found |= {
            f"{prefix}distance_content": round(before, 4),
            f"{prefix}distance_matched": round(matched_distance, 4),
            f"{prefix}distance_result": round(result_distance, 4),
            f"{prefix}drop_matched": _drop(before, matched_distance),
            f"{prefix}drop_result": _drop(before, result_distance),
        }
    found["ssim_result"] = round(luminance_ssim(result, content), 3)
    found["ssim_matched"] = round(luminance_ssim(matched, content), 3)
    return found
