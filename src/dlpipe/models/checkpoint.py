"""A trained model as one plain file: its weights plus what rebuilds the architecture.

Evaluate, export and predict load this with torch alone (no Lightning, whose
import costs seconds per stage), and with ``weights_only=True``.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlpipe import disk
from dlpipe.errors import DataError
from dlpipe.models.embedder import Embedder
from dlpipe.models.registry import build_model
from dlpipe.tasks import FAMILIES

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


def read_weights(path: Path) -> Any:
    """``torch.load`` of tensors and plain containers only: every file dlpipe loads goes through
    here. A file that carries any other object (a pickle runs code as it loads) is refused with
    one line naming the file and the object, and nothing of it runs."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(exc))
        what = f"the object {found[1]}" if found else "objects other than tensors"
        raise DataError(f"{path}: refused: it holds {what}, not only weights") from None


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode, and its spec."""
    payload = read_weights(path)
    spec = payload["spec"]
    model = build_model(
        spec["arch"], spec["in_channels"], spec["outputs"], spec["image_size"], spec["options"]
    )
    if FAMILIES[spec["family"]].embeds:
        model = Embedder(model)
    model.load_state_dict(payload["state_dict"])
    return model.eval(), spec
