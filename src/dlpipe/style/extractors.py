"""Feature networks for style transfer, each returning the feature maps of the named layers.

``random_multiscale`` (the default) needs no weights: one layer of random filters at several
kernel sizes (Ustyuzhaninov et al. 2016) gives real texture. ``vgg19`` reads ImageNet weights from
the local torch cache only, never downloading; ``random_vgg19`` is its architecture with random
weights, kept to show in the benchmark why random deep features fail (speckle, edge drawings).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional

from dlpipe.errors import DataError

KERNEL_SIZES = (3, 5, 7, 11, 15, 19, 23)
VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1
VGG19_LAYERS = {"conv1_1": 1, "conv2_1": 6, "conv3_1": 11, "conv4_1": 20, "conv4_2": 22, "conv5_1": 29}
"""Layer name -> index in ``vgg19().features`` of the ReLU after that convolution (Gatys used the
rectified maps); the convolution itself is one index earlier."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Normalise(nn.Module):
    """ImageNet mean/std, so that images in [0, 1] meet the filters centred and scaled."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


class RandomMultiscale(nn.Module):
    """One convolution per kernel size with seeded Gaussian filters (variance 1/fan-in), ReLU.

    Layers are named ``k3`` ... ``k23``. Kernels of 11 and more run at a stride of size // 5 (each
    pixel still under several windows): about 6x less work than stride 1 for all.
    """

    def __init__(self, layers: Sequence[str], filters: int = 64, seed: int = 0) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in {f"k{size}" for size in KERNEL_SIZES}]
        if unknown:
            raise ValueError(f"random_multiscale has no layer {unknown[0]!r} (k3 ... k23)")
        self.layers = list(layers)
        self.normalise = _Normalise()
        self.sizes = [int(name[1:]) for name in self.layers]
        for size in self.sizes:  # one generator per size: its filters do not depend on the other layers asked
            generator = torch.Generator().manual_seed(1000 * seed + size)
            weight = torch.randn(filters, 3, size, size, generator=generator) / (3 * size * size) ** 0.5
            self.register_buffer(f"weight{size}", weight)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        image = self.normalise(image)
        maps = []
        for size in self.sizes:
            padded = functional.pad(image, [size // 2] * 4, mode="reflect")
            weight = getattr(self, f"weight{size}")
            maps.append(functional.relu(functional.conv2d(padded, weight, stride=max(1, size // 5))))
        return maps


class VGG19Features(nn.Module):
    """torchvision's VGG-19 ``features`` cut after the deepest requested layer, max-pooling replaced
    by average pooling (Gatys et al.: smoother gradients, fewer artefacts)."""

    def __init__(self, layers: Sequence[str], state: dict[str, torch.Tensor] | None, seed: int = 0) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"vgg19 has no layer {unknown[0]!r} ({', '.join(VGG19_LAYERS)})")
        self.layers = list(layers)
        self.indices = [VGG19_LAYERS[name] for name in self.layers]
        with torch.random.fork_rng(devices=[]):  # torchvision initialises with the global generator
            torch.manual_seed(seed)
            features = torchvision.models.vgg19(weights=None).features[: max(self.indices) + 1]
        if state is not None:
            features.load_state_dict(state)
        for index, module in enumerate(features):
            if isinstance(module, nn.MaxPool2d):
                features[index] = nn.AvgPool2d(kernel_size=2, stride=2)
            elif isinstance(module, nn.ReLU):
                features[index] = nn.ReLU(inplace=False)
        self.normalise = _Normalise()
        self.features = features.requires_grad_(False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        found = {}
        value = self.normalise(image)
        for index, module in enumerate(self.features):
            value = module(value)
            if index in self.indices:
                found[index] = value
        return [found[index] for index in self.indices]


def vgg19_cache_path() -> Path:
    """Where torchvision keeps VGG-19's ImageNet weights once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def _cached_vgg19_state(layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Only the ``features.*`` tensors up to the deepest requested layer, read from the local cache."""
    path = vgg19_cache_path()
    if not path.is_file():
        raise DataError(
            f"VGG-19 weights not found at {path} (nothing is downloaded); with internet, fill the cache "
            "once: python -c \"import torchvision; torchvision.models.vgg19(weights='IMAGENET1K_V1')\""
        )
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: torch raises several kinds
        raise DataError(f"VGG-19 weights at {path}: unreadable ({error.__class__.__name__})") from error
    last = max(VGG19_LAYERS[name] for name in layers)
    needed = {
        f"{index}.{kind}"
        for index, module in enumerate(torchvision.models.vgg19(weights=None).features[: last + 1])
        if isinstance(module, nn.Conv2d)
        for kind in ("weight", "bias")
    }
    missing = sorted(key for key in needed if f"features.{key}" not in stored)
    if missing:
        raise DataError(f"VGG-19 weights at {path}: no features.{missing[0]} (incomplete file)")
    return {key: stored[f"features.{key}"] for key in needed}


EXTRACTORS = ("random_multiscale", "vgg19", "random_vgg19")
_VGG_STYLE = {name: 1.0 for name in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")}
DEFAULT_LAYERS: dict[str, tuple[str, dict[str, float]]] = {
    "random_multiscale": ("k7", {f"k{size}": 1.0 for size in KERNEL_SIZES}),
    "vgg19": ("conv4_2", _VGG_STYLE),  # Gatys et al.'s choice
    "random_vgg19": ("conv4_2", _VGG_STYLE),
}
"""Extractor -> (content layer, style layer weights). ``k7`` keeps the content's shapes while the
larger kernels' statistics are free to take the style's texture (k11 lost SSIM, k5 lost texture)."""


def layer_names(name: str) -> list[str]:
    """The layers extractor ``name`` can return."""
    return [f"k{size}" for size in KERNEL_SIZES] if name == "random_multiscale" else list(VGG19_LAYERS)


def build(name: str, layers: Sequence[str], seed: int = 0) -> nn.Module:
    """The extractor ``name`` returning the maps of ``layers`` in that order."""
    if name == "random_multiscale":
        return RandomMultiscale(layers, seed=seed)
    if name == "vgg19":
        return VGG19Features(layers, _cached_vgg19_state(layers))
    if name == "random_vgg19":
        return VGG19Features(layers, None, seed=seed)
    raise ValueError(f"unknown extractor {name!r} ({', '.join(EXTRACTORS)})")
