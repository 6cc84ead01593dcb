"""split: source images -> data/split/{train,val,test}.npz + reports/split.json;
with ``data.train_dev`` > 0 also train_dev.npz, held out of train."""

from __future__ import annotations

import numpy as np

from dlpipe import io, paths
from dlpipe.config import Params
from dlpipe.data.sources import load_source
from dlpipe.data.split import (
    class_counts,
    content_hash,
    hold_out_train_dev,
    normalization_stats,
    stratified_split,
)


def run(params: Params) -> None:
    dataset = load_source(params.data)
    split = stratified_split(dataset.labels, params.data.ratios, params.data.seed)
    split = hold_out_train_dev(split, dataset.labels, params.data.train_dev, params.data.seed)
    classes = np.array(dataset.class_names)

    for name in split.indices:
        idx = split.indices[name]
        io.save_arrays(
            paths.split_file(name),
            {"x": dataset.images[idx], "y": dataset.labels[idx], "classes": classes},
        )
    train_images = dataset.images[split.indices["train"]]
    io.write_json(paths.NORMALIZATION, normalization_stats(train_images))
    io.write_json(
        paths.SPLIT_REPORT,
        {
            "source": params.data.source,
            "content_hash": content_hash(dataset),
            "image_shape": list(dataset.images.shape[1:]),
            "classes": dataset.class_names,
            "counts": {
                name: class_counts(dataset.labels[split.indices[name]], dataset.class_names)
                for name in split.indices
            },
            "skipped_images": len(dataset.skipped),
            "skipped_files": dataset.skipped,
        },
    )
    sizes = ", ".join(f"{name} {len(idx)}" for name, idx in split.indices.items())
    print(f"split: {len(dataset.labels)} images of {len(classes)} classes -> {sizes}")
