"""Transfer learning: start from other weights, freeze the first blocks.

``train.init_from`` names a model this pipeline trained (``models/NAME/model.pt``)
or ``torchvision:<WeightsEnum>`` — used only when the file is already in the
local torch cache: dlpipe never downloads. Weights are copied where name and
shape match, so a new head for another class count starts fresh.

``train.freeze`` is ``none``, ``all_but_head`` or N: the model's top-level
blocks (its children that hold parameters, in order) are the unit, and the
last one is the head.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dlpipe import paths
from dlpipe.errors import ConfigError, DataError
from dlpipe.models.checkpoint import read_weights

TORCHVISION_PREFIX = "torchvision:"


def _torchvision_state(name: str) -> dict[str, torch.Tensor]:
    import torchvision

    try:
        weights = torchvision.models.get_weight(name)
    except (ValueError, KeyError, AttributeError):
        raise ConfigError(f"train.init_from names unknown torchvision weights {name!r}") from None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    if not cached.exists():
        raise DataError(
            f"{cached}: torchvision weights {name} are not in the local torch cache (no download)"
        )
    return read_weights(cached)


def initial_state(init_from: str) -> dict[str, torch.Tensor]:
    """The state dict that ``train.init_from`` names."""
    if init_from.startswith(TORCHVISION_PREFIX):
        return _torchvision_state(init_from.removeprefix(TORCHVISION_PREFIX))
    source = paths.model_file(init_from)
    if not source.exists():
        raise DataError(f"{source}: train.init_from names a model this pipeline has not trained")
    return read_weights(source)["state_dict"]


def load_matching(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Copy every tensor whose name and shape match; return the names left as initialised."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not any(k.endswith("weight") for k in matching):
        raise DataError("train.init_from: no weight matches this architecture's layers")
    model.load_state_dict(matching, strict=False)
    return sorted(set(own) - set(matching))


def blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Top-level children that hold parameters, in order; the last is the head."""
    return [(name, child) for name, child in model.named_children() if any(True for _ in child.parameters())]


def freeze(model: nn.Module, spec: str | int) -> list[str]:
    """Stop gradients through the blocks ``spec`` names; return their names."""
    groups = blocks(model)
    if spec == "none":
        count = 0
    elif spec == "all_but_head":
        count = len(groups) - 1
    else:
        count = int(spec)
        if count >= len(groups):
            raise ConfigError(
                f"train.freeze must leave the head trainable "
                f"(got {count}; this model has {len(groups)} blocks)"
            )
    frozen = groups[:count]
    for _, module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return [name for name, _ in frozen]


def reset_head(model: nn.Module) -> None:
    """Re-initialise the last block: a head trained for other classes means nothing here."""
    _, head = blocks(model)[-1]
    for module in head.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
