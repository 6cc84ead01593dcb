"""``dlpipe predict IMAGE...``: a trained model's results on image files, shown as its
family shows them (``dlpipe.tasks.<family>.predict.show``).

The model comes from the MLflow registry (``models:/<prefix><name>@champion`` of
``--family``, or the newest version of ``<prefix><name>`` with ``--model``);
images are prepared exactly as the split stage prepared the family's data:
converted to grey or RGB, resized bilinearly, normalised with the training
statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from dlpipe import champion, disk, paths, tracking
from dlpipe.config import Params
from dlpipe.data.sources import image_array, read_image
from dlpipe.errors import DataError
from dlpipe.tasks import FAMILIES


def load_images(files: list[str], size: int, channels: int) -> np.ndarray:
    """uint8 N×size×size×channels; the first missing or unreadable file is a one-line error."""
    arrays = []
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise DataError(f"{path}: no such image file")
        try:
            arrays.append(image_array(read_image(path), size, channels))
        except (UnidentifiedImageError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path}: not a readable image ({reason})") from None
    return np.stack(arrays)


def normalise(images: np.ndarray, stats: dict[str, list[float]]) -> np.ndarray:
    """As data.tensors.to_tensor, in numpy: float32 N×C×H×W (clips: N×C×D×H×W)."""
    x = images.transpose(0, images.ndim - 1, *range(1, images.ndim - 1)).astype(np.float32) / 255.0
    per_channel = (1, -1) + (1,) * (images.ndim - 2)
    mean = np.array(stats["mean"], dtype=np.float32).reshape(per_channel)
    std = np.array(stats["std"], dtype=np.float32).reshape(per_channel)
    return (x - mean) / std


def model_uri(params: Params, family: str, name: str | None) -> tuple[str, str]:
    """(URI, model name) of the family's champion, or of the newest registered version of ``name``."""
    if name is None:
        return champion.champion_of(params, family)
    if name not in params.model_families:
        listed = ", ".join(params.model_families)
        raise DataError(f"--model {name}: no family's models list it (listed: {listed})")
    return f"models:/{champion.registered_name(params, name)}/latest", name


def predict(
    params: Params, files: list[str], family: str = "classify", name: str | None = None
) -> tuple[str, list[str], np.ndarray]:
    """(model URI, model name, the family's names, the network's outputs N×outputs)."""
    if name is not None and name in params.model_families:
        family = params.family_of(name)
    report = paths.split_report(family)
    if not report.exists():
        raise DataError(f"{report}: missing; run `dvc repro` first")
    split = disk.read_json(report)
    shape, shown = split["image_shape"], FAMILIES[family].part("predict")
    # a family of other inputs than image files (clips: .npy) reads them itself
    images = shown.load(files, shape) if hasattr(shown, "load") else load_images(files, shape[0], shape[2])
    x = normalise(images, disk.read_json(paths.normalization(family)))
    uri, name = model_uri(params, family, name)
    tracking.client(params.tracking)
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except MlflowException as exc:
        raise DataError(f"{uri}: cannot load it ({str(exc).splitlines()[0]})") from None

    def run(batch: np.ndarray) -> np.ndarray:
        output = loaded.predict(batch)
        return output[FAMILIES[family].output] if isinstance(output, dict) else output

    # a model whose signature fixes the batch (the two-stage detector's: 1) gets that many at a time
    fixed = loaded.metadata.get_input_schema().inputs[0].shape[0]
    step = fixed if fixed > 0 else len(x)
    output = np.concatenate([run(x[i : i + step]) for i in range(0, len(x), step)])
    return uri, name, split["names"], np.asarray(output, dtype=np.float64)


def run(
    params: Params, files: list[str], family: str, name: str | None = None, top: int = 5, out: str = "."
) -> None:
    """Prints each image's results; a family that draws them (detect) writes ``out``/STEM_boxes.png."""
    uri, name, names, outputs = predict(params, files, family, name)
    family, arch = params.family_of(name), params.arch_of(name)
    print(f"model: {uri}")
    shown = FAMILIES[family].part("predict")
    for file, row in zip(files, outputs, strict=True):
        print(f"{file}: {shown.show(row, names, top, arch)}")
        if hasattr(shown, "draw"):
            drawn = shown.draw(Path(file), row, names, arch, Path(out) / f"{Path(file).stem}_boxes.png")
            print(f"{file}: drawn in {drawn}")
