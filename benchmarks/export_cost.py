"""Where export@NAME's seconds go: each phase of the export stage, timed for each trained model.

The phases are those of ``dlpipe.stages.export.run`` but MLflow's logging: eager
outputs on the test split, the ``torch.export`` trace, saving the ``.pt2``, the ONNX
conversion, the ONNX and ``.pt2`` parity checks, and the batch-1 latency of eager
and ONNX Runtime (``export.latency_runs`` runs each). With ``--optimize-off`` it also
converts each model with the ONNX exporter's ``optimize=False`` beside the shipped
``optimize=True``: conversion seconds and ONNX Runtime's batch-1 latency of each. Prints
tables and writes benchmarks/results/export_cost.json.

    dvc repro                           # trained models under models/
    .venv/bin/python benchmarks/export_cost.py [--models lenet5 resnet56] [--optimize-off]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import torch
from throughput import report

from dlpipe import formats, paths
from dlpipe.config import load_params
from dlpipe.evaluation.outputs import in_batches, predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.tasks import FAMILIES

RESULTS = Path(__file__).parent / "results" / "export_cost.json"
PHASES = ("eager", "trace", "save_pt2", "onnx", "parity", "latency")


def phase_seconds(name: str, latency_runs: int) -> dict[str, float]:
    clock, seconds = time.perf_counter(), {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(now - clock, 3)
        clock = now

    model, spec = load_model(paths.model_file(name))
    x, _, _ = split_inputs(spec["family"], "test")
    predict_outputs(model, x)
    lap("eager")
    example = x[:2].clone()
    with tempfile.TemporaryDirectory() as scratch:
        program = formats.export_program(model, example)
        lap("trace")
        formats.save_program(program, Path(scratch, "model.pt2"))
        lap("save_pt2")
        formats.export_onnx(program, example, Path(scratch, "model.onnx"), FAMILIES[spec["family"]].output)
        lap("onnx")
        session = formats.onnx_session(Path(scratch, "model.onnx"))
        nchw, traced = torch.contiguous_format, program.module()
        in_batches(lambda batch: session.run(None, {formats.INPUT_NAME: batch.numpy()})[0], x, nchw)
        with torch.inference_mode():
            in_batches(lambda batch: traced(batch).numpy(), x, nchw)
        lap("parity")
        with torch.inference_mode():
            formats.median_latency_ms(lambda: model(x[:1]), latency_runs)
        formats.median_latency_ms(
            lambda: session.run(None, {formats.INPUT_NAME: x[:1].numpy()}), latency_runs
        )
        lap("latency")
    return seconds


def optimize_side_by_side(name: str, latency_runs: int) -> dict[str, float]:
    """Conversion seconds and ONNX Runtime batch-1 latency (ms) with optimize on and off."""
    model, spec = load_model(paths.model_file(name))
    x, _, _ = split_inputs(spec["family"], "test")
    example = x[:2].clone()
    program = formats.export_program(model, example)
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for optimize in (True, False):
            path, key = Path(scratch, f"{optimize}.onnx"), "on" if optimize else "off"
            started = time.perf_counter()
            torch.onnx.export(
                program,
                (example,),
                str(path),
                dynamo=True,
                input_names=[formats.INPUT_NAME],
                output_names=[FAMILIES[spec["family"]].output],
                external_data=False,
                optimize=optimize,
                verbose=False,
            )
            row[f"convert_s_{key}"] = round(time.perf_counter() - started, 2)
            run = functools.partial(formats.onnx_session(path).run, None, {formats.INPUT_NAME: x[:1].numpy()})
            row[f"latency_ms_{key}"] = round(formats.median_latency_ms(run, latency_runs), 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="trained models (default: classification's models)")
    parser.add_argument("--optimize-off", action="store_true", help="also compare optimize=False")
    args = parser.parse_args()
    params = load_params()
    rows = []
    for name in args.models or list(params.models):
        seconds = phase_seconds(name, params.export.latency_runs)
        rows.append({"model": name, **seconds, "total": round(sum(seconds.values()), 3)})
    report(rows, ["model", *PHASES, "total"], RESULTS)
    totals = {phase: round(sum(row[phase] for row in rows), 1) for phase in (*PHASES, "total")}
    print("sum: " + ", ".join(f"{phase} {value} s" for phase, value in totals.items()))
    if args.optimize_off:
        compared = [
            {"model": row["model"], **optimize_side_by_side(row["model"], params.export.latency_runs)}
            for row in rows
        ]
        columns = ["model", "convert_s_on", "convert_s_off", "latency_ms_on", "latency_ms_off"]
        report(compared, columns, RESULTS.with_name("export_optimize.json"))


if __name__ == "__main__":
    main()
