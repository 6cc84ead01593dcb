"""How ``dlpipe predict`` shows a scene's detections: class, score and box corners (x1 y1 x2 y2,
as shares of the image's width and height), one per detection; and the image with them drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from dlpipe.data.drawing import PREDICTED_COLOUR
from dlpipe.tasks.detect.detectors import SHOWN_SCORE, detections

IOU_THRESHOLD = 0.5


def _found(outputs: np.ndarray, names: list[str], arch: str) -> tuple[torch.Tensor, ...]:
    batch = torch.from_numpy(np.ascontiguousarray(outputs))[None]
    return detections(arch, batch, len(names), SHOWN_SCORE, IOU_THRESHOLD)[0]


def show(outputs: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """``3 objects: 7 0.97 (0.12 0.30 0.40 0.58); 1 0.91 (...); ...``, at most ``top`` of them."""
    boxes, scores, labels = _found(outputs, names, arch)
    if not len(boxes):
        return f"no object (no detection scores {SHOWN_SCORE} or more)"
    shown = [
        f"{names[int(label)]} {float(score):.2f} ({' '.join(f'{float(v):.2f}' for v in box)})"
        for box, score, label in list(zip(boxes, scores, labels, strict=True))[:top]
    ]
    return f"{len(boxes)} objects: " + "; ".join(shown)


def draw(source: Path, outputs: np.ndarray, names: list[str], arch: str, out: Path) -> Path:
    """``source`` at its own size with its detections drawn, written to ``out``."""
    picture = Image.open(source).convert("RGB")
    pen = ImageDraw.Draw(picture)
    width, height = picture.size
    for box, score, label in zip(*_found(outputs, names, arch), strict=True):
        x1, y1, x2, y2 = (
            float(v) * side for v, side in zip(box, (width, height, width, height), strict=True)
        )
        pen.rectangle([x1, y1, x2, y2], outline=PREDICTED_COLOUR, width=max(1, width // 100))
        pen.text((x1 + 2, y1 + 1), f"{names[int(label)]} {float(score):.2f}", fill=PREDICTED_COLOUR)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out)
    return out
