"""A trained model as one plain file: its weights plus what rebuilds the architecture.

Evaluate, export and predict load this with torch alone (no Lightning, whose
import costs seconds per stage), and with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlpipe import disk
from dlpipe.models.registry import build_model

# What build_model needs, the family that reads the outputs, and the names they refer to
# (classes, or points).
SPEC_KEYS = ("family", "arch", "in_channels", "outputs", "image_size", "names", "options")


def save_model(path: Path, model: nn.Module, spec: dict[str, Any]) -> None:
    missing = set(SPEC_KEYS) - set(spec)
    if missing:
        raise ValueError(f"model spec lacks {sorted(missing)}")
    payload = {"spec": {k: spec[k] for k in SPEC_KEYS}, "state_dict": model.state_dict()}
    with disk.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode, and its spec."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    spec = payload["spec"]
    model = build_model(
        spec["arch"], spec["in_channels"], spec["outputs"], spec["image_size"], spec["options"]
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval(), spec
