"""export@NAME: models/NAME/model.pt -> model.onnx + model.pt2, reports/models/NAME/export.json.

The ONNX graph has one input, ``images``, and one output named by the model's
family (``logits``, ``outputs``, ``points``). Fails (and writes nothing) when
ONNX or torch.export outputs differ from eager by more than ``export.max_abs_diff``
on the first ``export.parity_examples`` images of the family's test split, or, for a
detector, when the ONNX outputs lead to other detections (tasks/detect/parity.py);
otherwise logs the ONNX model with its signature to the training run and
registers it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from dlpipe import champion, disk, formats, paths, tracking
from dlpipe.config import Params
from dlpipe.errors import ExportError
from dlpipe.evaluation.outputs import in_batches, predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.tasks import FAMILIES


def _log_to_mlflow(
    params: Params, name: str, onnx_path: Path, example: np.ndarray, outputs: np.ndarray
) -> str:
    from importlib.metadata import version

    import mlflow
    import onnx
    from mlflow.models import infer_signature

    tracking.client(params.tracking)
    registered = champion.registered_name(params, name)
    with mlflow.start_run(run_id=tracking.read_run_id(name)):
        mlflow.onnx.log_model(
            onnx.load(str(onnx_path)),
            name="model",
            signature=infer_signature(example, outputs),
            input_example=example,
            registered_model_name=registered,
            # Naming them skips MLflow's inference, which imports the model in a subprocess.
            pip_requirements=[f"{pkg}=={version(pkg)}" for pkg in ("onnx", "onnxruntime", "numpy")],
        )
        mlflow.log_artifact(str(paths.report_dir(name) / paths.EXPORT_SUMMARY), "export")
    return registered


def run(params: Params, name: str) -> None:
    model, spec = load_model(paths.model_file(name))
    output = FAMILIES[spec["family"]].output
    x, _, names = split_inputs(spec["family"], "test")
    # A converter's error shows on any input: a sample spares 12,000 scenes three passes each.
    x = x[: params.export.parity_examples]
    eager = predict_outputs(model, x)
    # A batch of 1 would let the exporter specialise the batch size to 1. A copy: the program
    # keeps its example, and a view would save the whole test split's storage with it.
    example = x[:2].clone()

    with tempfile.TemporaryDirectory() as scratch:
        onnx_tmp, program_tmp = Path(scratch, "model.onnx"), Path(scratch, "model.pt2")
        program = formats.export_program(model, example)
        formats.save_program(program, program_tmp)
        formats.export_onnx(program, example, onnx_tmp, output)
        session = formats.onnx_session(onnx_tmp)
        nchw = torch.contiguous_format
        onnx_out = in_batches(
            lambda batch: session.run(None, {formats.INPUT_NAME: batch.numpy()})[0], x, nchw
        )
        traced = program.module()
        with torch.inference_mode():
            program_out = in_batches(lambda batch: traced(batch).numpy(), x, nchw)
        report = {
            "onnx_max_abs_diff": formats.max_abs_diff(onnx_out, eager),
            "pt2_max_abs_diff": formats.max_abs_diff(program_out, eager),
            "threshold": params.export.max_abs_diff,
            "test_examples": len(x),
        }
        worst = max(report["onnx_max_abs_diff"], report["pt2_max_abs_diff"])
        if worst > params.export.max_abs_diff:
            raise ExportError(
                f"export@{name}: exported outputs differ from eager by {worst:.3g} "
                f"(export.max_abs_diff is {params.export.max_abs_diff:g})"
            )
        if spec["family"] == "detect":
            parity = FAMILIES[spec["family"]].part("parity")
            report.update(parity.check(params, spec["arch"], len(names), eager, onnx_out))
            if report["detections_unmatched"] > parity.MAX_UNMATCHED_SHARE * max(1, report["detections"]):
                raise ExportError(
                    f"export@{name}: {report['detections_unmatched']} of {report['detections']} detections"
                    f" differ after decoding and NMS (IoU < {parity.MATCH_IOU}, or a score off by more"
                    f" than {parity.MATCH_SCORE})"
                )
        single, one = x[:1], x[:1].numpy()
        with torch.inference_mode():
            report["eager_latency_ms"] = formats.median_latency_ms(
                lambda: model(single), params.export.latency_runs
            )
        report["onnx_latency_ms"] = formats.median_latency_ms(
            lambda: session.run(None, {formats.INPUT_NAME: one}), params.export.latency_runs
        )
        report["onnx_speedup"] = report["eager_latency_ms"] / report["onnx_latency_ms"]
        report = {k: round(v, 6) if isinstance(v, float) else v for k, v in report.items()}

        model_dir = paths.model_dir(name)
        onnx_file, program_file = model_dir / paths.ONNX_FILE, model_dir / paths.PROGRAM_FILE
        for tmp, final in ((onnx_tmp, onnx_file), (program_tmp, program_file)):
            with disk.atomic_path(final) as target:
                target.write_bytes(tmp.read_bytes())
    disk.write_json(paths.report_dir(name) / paths.EXPORT_SUMMARY, report)
    registered = _log_to_mlflow(params, name, onnx_file, one, eager[:1])
    print(
        f"export@{name}: max |onnx - eager| {report['onnx_max_abs_diff']:.2e}; batch-1 latency "
        f"eager {report['eager_latency_ms']:.3f} ms, onnxruntime {report['onnx_latency_ms']:.3f} ms "
        f"({report['onnx_speedup']:.1f}x); registered as {registered}"
    )
