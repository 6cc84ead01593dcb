"""export@NAME: models/NAME/model.pt -> model.onnx + model.pt2, reports/models/NAME/export.json.

The ONNX graph has one input, ``images``, and one output named by the model's
family (``logits``, ``outputs``, ``points``, ``raw``). Fails (and writes nothing) when
ONNX or torch.export outputs differ from eager by more than ``export.max_abs_diff``
on the first ``export.parity_examples`` images of the family's test split, or, for a
detector, when the ONNX outputs lead to other detections (tasks/detect/parity.py);
otherwise logs the ONNX model with its signature to the training run and
registers it.

A network may say that its export takes one image at a time (``exports_one_image``: the
two-stage detector, whose torchvision code loops over the images of a batch; its MLflow
signature then says batch 1), that tracing it needs a patch (``tracing()``), and that its
outputs are ranked (``ranked``: rows sorted by score, which float noise may swap where two
scores nearly tie): a ranked network is held to its detections, not to its raw rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
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
    params: Params, name: str, onnx_path: Path, example: np.ndarray, outputs: np.ndarray, one_image: bool
) -> str:
    """The ONNX model, its signature (batch 1 for a model exported for one image, any batch
    otherwise) and the export report, to the training run; registered."""
    from importlib.metadata import version

    import mlflow
    import onnx
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import Schema, TensorSpec

    tracking.client(params.tracking)
    registered = champion.registered_name(params, name)
    signature = infer_signature(example, outputs)
    if one_image:
        signature = ModelSignature(
            Schema([TensorSpec(example.dtype, example.shape)]),
            Schema([TensorSpec(outputs.dtype, outputs.shape)]),
        )
    with mlflow.start_run(run_id=tracking.read_run_id(name)):
        mlflow.onnx.log_model(
            onnx.load(str(onnx_path)),
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=registered,
            # Naming them skips MLflow's inference, which imports the model in a subprocess.
            pip_requirements=[f"{pkg}=={version(pkg)}" for pkg in ("onnx", "onnxruntime", "numpy")],
        )
        mlflow.log_artifact(str(paths.report_dir(name) / paths.EXPORT_SUMMARY), "export")
    return registered


def _in_pieces(predict: Callable[[torch.Tensor], np.ndarray], one_image: bool):
    """``predict`` for a model exported for one image: a batch, an image at a time."""
    if not one_image:
        return predict
    return lambda batch: np.concatenate([predict(batch[i : i + 1]) for i in range(len(batch))])


def run(params: Params, name: str) -> None:
    model, spec = load_model(paths.model_file(name))
    output = FAMILIES[spec["family"]].output
    # A converter's error shows on any input: a sample spares 12,000 scenes three passes each.
    x, _, names = split_inputs(spec["family"], "test", params.export.parity_examples)
    eager = predict_outputs(model, x)
    fixed = getattr(model, "exports_one_image", False)
    # A batch of 1 would let the exporter specialise the batch size to 1. A copy: the program
    # keeps its example, and a view would save the whole test split's storage with it.
    example = x[: 1 if fixed else 2].clone()

    with tempfile.TemporaryDirectory() as scratch:
        onnx_tmp, program_tmp = Path(scratch, "model.onnx"), Path(scratch, "model.pt2")
        with getattr(model, "tracing", nullcontext)():
            program = formats.export_program(model, example, dynamic_batch=not fixed)
        formats.save_program(program, program_tmp)
        formats.export_onnx(program, example, onnx_tmp, output)
        session = formats.onnx_session(onnx_tmp)
        nchw = torch.contiguous_format
        run_onnx = _in_pieces(lambda batch: session.run(None, {formats.INPUT_NAME: batch.numpy()})[0], fixed)
        onnx_out = in_batches(run_onnx, x, nchw)
        traced = program.module()
        with torch.inference_mode():
            program_out = in_batches(_in_pieces(lambda batch: traced(batch).numpy(), fixed), x, nchw)
        report = {
            "onnx_max_abs_diff": formats.max_abs_diff(onnx_out, eager),
            "pt2_max_abs_diff": formats.max_abs_diff(program_out, eager),
            "threshold": params.export.max_abs_diff,
            "test_examples": len(x),
        }
        worst = max(report["onnx_max_abs_diff"], report["pt2_max_abs_diff"])
        if worst > params.export.max_abs_diff and not getattr(model, "ranked", False):
            raise ExportError(
                f"export@{name}: exported outputs differ from eager by {worst:.3g} "
                f"(export.max_abs_diff is {params.export.max_abs_diff:g})"
            )
        if spec["family"] == "detect":
            parity = FAMILIES[spec["family"]].part("parity")
            checked = parity.check(params, spec["arch"], len(names), eager, [onnx_out, program_out])
            report["detections"] = checked["detections"]
            for prefix, unmatched in zip(("", "pt2_"), checked["detections_unmatched"], strict=True):
                report[f"{prefix}detections_unmatched"] = unmatched
                if unmatched > parity.MAX_UNMATCHED_SHARE * max(1, checked["detections"]):
                    raise ExportError(
                        f"export@{name}: {unmatched} of {checked['detections']} detections of the"
                        f" {prefix and 'torch.export '}export differ after decoding and NMS"
                        f" (IoU < {parity.MATCH_IOU}, or a score off by more than {parity.MATCH_SCORE})"
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
    registered = _log_to_mlflow(params, name, onnx_file, one, eager[:1], fixed)
    held = (
        f"{report['detections_unmatched']} (torch.export: {report['pt2_detections_unmatched']}) of "
        f"{report['detections']} detections unmatched"
        if "detections" in report
        else f"max |onnx - eager| {report['onnx_max_abs_diff']:.2e}"
    )
    print(
        f"export@{name}: {held}; batch-1 latency "
        f"eager {report['eager_latency_ms']:.3f} ms, onnxruntime {report['onnx_latency_ms']:.3f} ms "
        f"({report['onnx_speedup']:.1f}x); registered as {registered}"
    )
