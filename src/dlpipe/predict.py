"""``dlpipe predict IMAGE...``: class probabilities from the champion (or a named model).

The model comes from the MLflow registry (``models:/<prefix><name>@champion``,
or the newest version of ``<prefix><name>`` with ``--model``); images are
prepared exactly as the split stage prepared the training data: converted to
grey or RGB, resized bilinearly, normalised with the training statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from dlpipe import champion, io, paths, tracking
from dlpipe.config import Params
from dlpipe.data.sources import image_array, read_image
from dlpipe.errors import DataError
from dlpipe.evaluation.metrics import probabilities


def load_images(files: list[str], size: int, channels: int) -> np.ndarray:
    """uint8 N×size×size×channels; the first missing or unreadable file is a one-line error."""
    arrays = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise DataError(f"{path}: no such image file")
        try:
            arrays.append(image_array(read_image(path), size, channels))
        except (UnidentifiedImageError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path}: not a readable image ({reason})") from None
    return np.stack(arrays)


def normalise(images: np.ndarray, stats: dict[str, list[float]]) -> np.ndarray:
    """As data.tensors.to_tensor, in numpy: float32 N×C×H×W."""
    x = images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    mean = np.array(stats["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.array(stats["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    return (x - mean) / std


def model_uri(params: Params, model: str | None) -> str:
    if model is None:
        return champion.champion_uri(params)
    if model not in params.models:
        raise DataError(f"--model {model}: not an entry of models (listed: {', '.join(params.models)})")
    return f"models:/{champion.registered_name(params, model)}/latest"


def predict(params: Params, files: list[str], model: str | None = None) -> tuple[str, list[str], np.ndarray]:
    """(model URI, class names, probabilities N×classes)."""
    if not paths.SPLIT_REPORT.exists():
        raise DataError(f"{paths.SPLIT_REPORT}: missing; run `dvc repro` first")
    split = io.read_json(paths.SPLIT_REPORT)
    size, _, channels = split["image_shape"]
    x = normalise(load_images(files, size, channels), io.read_json(paths.NORMALIZATION))
    uri = model_uri(params, model)
    tracking.client(params.tracking)
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except MlflowException as exc:
        raise DataError(f"{uri}: cannot load it ({str(exc).splitlines()[0]})") from None
    output = loaded.predict(x)
    logits = output["logits"] if isinstance(output, dict) else np.asarray(output)
    return uri, [str(c) for c in split["classes"]], probabilities(np.asarray(logits, dtype=np.float64))


def run(params: Params, files: list[str], model: str | None = None, top: int = 5) -> None:
    uri, class_names, probabilities = predict(params, files, model)
    print(f"model: {uri}")
    for name, row in zip(files, probabilities, strict=True):
        order = np.argsort(-row, kind="stable")[:top]
        shown = ", ".join(f"{class_names[i]} {row[i]:.4f}" for i in order)
        print(f"{name}: {class_names[order[0]]} ({shown})")
