"""split FAMILY: the family's source data -> data/FAMILY/split/{train,val,test}.npz,
normalization.json and reports/FAMILY/split.json.

What a split holds is the family's (``dlpipe.tasks.<family>.data.split``): images
``x`` and the family's targets. Normalisation statistics come from train only.
"""

from __future__ import annotations

from dlpipe import disk, paths
from dlpipe.config import Params
from dlpipe.data.split import content_hash, normalization_stats
from dlpipe.tasks import FAMILIES


def run(params: Params, family: str = "classify") -> None:
    data = FAMILIES[family].part("data")
    arrays, report = data.split(params.data_of(family))
    for name, split in arrays.items():
        disk.save_arrays(paths.split_file(family, name), split)
    disk.write_json(paths.normalization(family), normalization_stats(arrays["train"]["x"]))
    disk.write_json(
        paths.split_report(family),
        {
            **report,
            "family": family,
            "names": FAMILIES[family].part("batches").names(arrays["train"]),
            "content_hash": content_hash(arrays),
            "image_shape": list(arrays["train"]["x"].shape[1:]),
            "examples": {name: len(split["x"]) for name, split in arrays.items()},
        },
    )
    sizes = ", ".join(f"{name} {len(split['x'])}" for name, split in arrays.items())
    print(f"split {family}: {sum(len(s['x']) for s in arrays.values())} images -> {sizes}")
