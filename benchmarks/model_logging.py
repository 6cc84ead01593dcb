"""What MLflow's model logging costs export@NAME, option by option: ``mlflow.onnx.log_model``
as the stage calls it (signature, input example, registered), without the input example,
without the registration, and without both, on the exported ONNX files of a finished run.

Each option logs each model ``--repeats`` times to a scratch sqlite store (the project's
own store is not touched), options alternating, in one process with MLflow's package map
built first, as the preloaded stage has it. Prints a table (median seconds) and writes
benchmarks/results/model_logging.json.

    dvc repro                           # exported models under models/
    .venv/bin/python benchmarks/model_logging.py [--models lenet5 resnet56 inception faster_rcnn]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from throughput import report

from dlpipe import paths

RESULTS = Path(__file__).parent / "results" / "model_logging.json"
OPTIONS = {  # (input example, registered)
    "as shipped": (True, True),
    "no input example": (False, True),
    "not registered": (True, False),
    "neither": (False, False),
}


def _seconds(name: str, example: bool, registered: bool) -> float:
    import mlflow
    import onnx
    from mlflow.models import infer_signature

    model = onnx.load(str(paths.model_dir(name) / paths.ONNX_FILE))
    shape = [max(1, d.dim_value) for d in model.graph.input[0].type.tensor_type.shape.dim]
    images = np.random.default_rng(0).random(shape, dtype=np.float32)
    output = model.graph.output[0].type.tensor_type.shape.dim
    outputs = np.zeros([max(1, d.dim_value) for d in output], dtype=np.float32)
    requirements = [f"{pkg}=={version(pkg)}" for pkg in ("onnx", "onnxruntime", "numpy")]
    started = time.perf_counter()
    with mlflow.start_run():
        mlflow.onnx.log_model(
            model,
            name="model",
            signature=infer_signature(images, outputs),
            input_example=images if example else None,
            registered_model_name=f"benchmark-{name}" if registered else None,
            pip_requirements=requirements,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "resnet56", "inception", "faster_rcnn"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import mlflow
    from mlflow.utils import requirements_utils

    requirements_utils._init_modules_to_packages_map()  # as the preloader does
    with tempfile.TemporaryDirectory() as scratch:
        mlflow.set_tracking_uri(f"sqlite:///{scratch}/mlflow.db")
        mlflow.set_experiment("model_logging")
        seconds: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for name in args.models:
                for option, (example, registered) in OPTIONS.items():
                    seconds.setdefault((name, option), []).append(_seconds(name, example, registered))
    rows = [
        {"model": name, **{option: round(statistics.median(seconds[name, option]), 3) for option in OPTIONS}}
        for name in args.models
    ]
    report(rows, ["model", *OPTIONS], RESULTS)


if __name__ == "__main__":
    main()
