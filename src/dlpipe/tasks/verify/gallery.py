"""``dlpipe enroll DIR``, ``dlpipe verify IMAGE IDENTITY`` and ``dlpipe identify IMAGE``: the
siamese network at use.

Enrolling stores one embedding per person (the normalised mean of their photos' embeddings)
in models/NAME/gallery.npz, beside the model, and never the photos; a new photo is compared with
those. A pair is the same person when its squared distance is at most the threshold the
evaluation chose on the validation identities (reports/models/NAME/metrics.json).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe import disk, paths
from dlpipe.config import Params
from dlpipe.errors import DataError


def model_name(params: Params, name: str | None) -> str:
    """``name``, or the verify family's only model."""
    if name is not None:
        if params.family_of(name) != "verify":
            raise DataError(f"--model {name}: not a model of verify.models")
        return name
    models = list(params.verify.models)
    if len(models) > 1:
        raise DataError(f"verify.models has {len(models)} models: name one with --model")
    return models[0]


def _embed(name: str, images: np.ndarray) -> np.ndarray:
    import torch

    from dlpipe.data.tensors import to_tensor
    from dlpipe.evaluation.outputs import predict_outputs
    from dlpipe.models.checkpoint import load_model

    if not paths.model_file(name).is_file():
        raise DataError(f"{paths.model_file(name)}: no trained model: run `dvc repro` first")
    model, _ = load_model(paths.model_file(name))
    with torch.inference_mode():
        return predict_outputs(model, to_tensor(images, disk.read_json(paths.normalization("verify"))))


def _image_shape() -> tuple[int, int]:
    size, _, channels = disk.read_json(paths.split_report("verify"))["image_shape"]
    return size, channels


def threshold(name: str) -> float:
    metrics = paths.report_dir(name) / paths.METRICS
    if not metrics.is_file():
        raise DataError(f"{metrics}: no evaluation: run `dvc repro` first")
    return float(disk.read_json(metrics)["threshold"])


def enroll(params: Params, folder: str, name: str | None = None) -> Path:
    """Every person folder of ``folder`` (one photo or more each) into the gallery of the model."""
    from dlpipe.data.people import read_people

    name = model_name(params, name)
    size, channels = _image_shape()
    people = read_people(Path(folder), size, channels, least_photos=1)
    embeddings = _embed(name, people.images)
    means = np.stack([embeddings[people.identities == i].mean(axis=0) for i in range(len(people.names))])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    disk.save_arrays(paths.gallery(name), {"names": np.array(people.names), "embeddings": means})
    stored = f"{len(people.names)} identities from {len(people.images)} photos"
    print(f"enroll@{name}: {stored} -> {paths.gallery(name)}")
    return paths.gallery(name)


def _gallery(name: str) -> tuple[list[str], np.ndarray]:
    if not paths.gallery(name).is_file():
        raise DataError(f"{paths.gallery(name)}: nobody enrolled: run `dlpipe enroll DIR` first")
    stored = disk.load_arrays(paths.gallery(name))
    return [str(n) for n in stored["names"]], stored["embeddings"]


def _distances(image: str, name: str) -> tuple[list[str], np.ndarray]:
    """The enrolled names and the squared distance of ``image``'s embedding to each."""
    from dlpipe.inference import load_images

    names, gallery = _gallery(name)
    size, channels = _image_shape()
    embedding = _embed(name, load_images([image], size, channels))[0]
    return names, ((gallery - embedding) ** 2).sum(axis=1)


def verify(params: Params, image: str, identity: str, name: str | None = None) -> bool:
    """Whether ``image`` is ``identity``: prints the distance, the threshold and yes or no."""
    name = model_name(params, name)
    names, distances = _distances(image, name)
    if identity not in names:
        raise DataError(
            f"{identity!r} is not enrolled in {paths.gallery(name)} (enrolled: {', '.join(names)})"
        )
    distance, limit = float(np.sqrt(distances[names.index(identity)])), float(np.sqrt(threshold(name)))
    same = distance <= limit
    print(f"{image}: distance to {identity} {distance:.4f}, threshold {limit:.4f}: {'yes' if same else 'no'}")
    return same


def identify(params: Params, image: str, top: int = 3, name: str | None = None) -> str | None:
    """The nearest enrolled identities of ``image`` with their distances; the nearest if within
    the threshold, else None ("unknown")."""
    name = model_name(params, name)
    names, distances = _distances(image, name)
    limit = float(np.sqrt(threshold(name)))
    order = np.argsort(distances)[:top]
    nearest = ", ".join(f"{names[i]} {np.sqrt(distances[i]):.4f}" for i in order)
    found = names[order[0]] if np.sqrt(distances[order[0]]) <= limit else None
    print(f"{image}: {found or 'unknown'} (threshold {limit:.4f}; nearest: {nearest})")
    return found
