"""Does params.yaml carry over to data of another size? The shipped recipes, run through the
pipeline's own stages on a data set, against a longer plain-PyTorch run on the same split.

A scratch project in ROOT gets the repository's params.yaml with ``data`` (and
``augment.copies``) changed as asked and ``models`` cut to ``--models``; split@,
augment@, train@NAME and evaluate@NAME run there as commands, as a user runs
them. The reference is a plain PyTorch loop (no Lightning) on the same
augmented training images: the ``--reference`` architecture with AdamW (lr 3e-3,
weight decay 5e-4, one-cycle), label smoothing 0.05 and batches of 64 for
``--reference-steps`` steps (whole epochs), scored on the same test split after
its last epoch. The goal: the best default model within half a point of it.
Prints a Markdown table and writes benchmarks/results/carry_over_<LABEL>.json.

    .venv/bin/python benchmarks/carry_over.py /tmp/co-digits --label digits
    .venv/bin/python benchmarks/carry_over.py /tmp/co-copies --label copies3 --copies 3
    .venv/bin/python benchmarks/carry_over.py /tmp/co-faces --label faces --source faces
    .venv/bin/python benchmarks/carry_over.py /tmp/co-mnist --label mnist5000 \\
        --source imagefolder --path /tmp/mnist5000     # benchmarks/mnist_folder.py makes it
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from dlpipe import disk, paths
from dlpipe.data.tensors import load_split
from dlpipe.evaluation.outputs import predict_outputs
from dlpipe.models.registry import build_model

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
GOAL = 0.005  # the best default model within half a point of the reference


def write_project(root: Path, args: argparse.Namespace) -> dict:
    """ROOT/params.yaml: the repository's, with the data, copies and models asked for."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(source=args.source, path=args.path)
    if args.copies is not None:
        params["augment"]["copies"] = args.copies
    params["models"] = {name: params["models"][name] for name in args.models}
    params["leaderboard"]["ensemble"] = []
    params["train"].update(accelerator="cpu", devices=1)
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def stage(root: Path, *command: str) -> None:
    subprocess.run([sys.executable, "-m", "dlpipe", *command], cwd=root, check=True)


def reference_accuracy(arch: str, steps: int, seed: int) -> tuple[float, float, int]:
    """Test accuracy of a plain PyTorch run of ``steps`` steps rounded up to whole epochs (in the
    project folder), its seconds and its epochs."""
    torch.manual_seed(seed)
    train, names = load_split("classify", paths.augmented_train("classify"))
    test, _ = load_split("classify", paths.split_file("classify", "test"))
    model = build_model(arch, train.x.shape[1], len(names), train.x.shape[-1])
    model = model.to(memory_format=torch.channels_last)
    batch_size = 64
    batches = math.ceil(len(train) / batch_size)
    epochs = math.ceil(steps / batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * batches)
    loss_function = nn.CrossEntropyLoss(label_smoothing=0.05)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(train)).split(batch_size):
            optimizer.zero_grad()
            x = train.x[batch].contiguous(memory_format=torch.channels_last)
            loss_function(model(x), train.y[batch]).backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - started
    predicted = predict_outputs(model, test.x).argmax(axis=1)
    return float((predicted == test.y.numpy()).mean()), seconds, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the scratch project folder")
    parser.add_argument("--label", required=True, help="names the results file")
    parser.add_argument("--source", default="digits", help="data.source")
    parser.add_argument("--path", default=None, help="data.path")
    parser.add_argument("--copies", type=int, default=None, help="augment.copies (default: as shipped)")
    parser.add_argument("--models", nargs="+", default=["logreg", "lenet5", "vgg16_bn", "resnet20"])
    parser.add_argument("--reference", default="resnet20", help="the reference's architecture")
    parser.add_argument("--reference-steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0, help="the reference's seed")
    args = parser.parse_args()

    params = write_project(args.root, args)
    stage(args.root, "split", "classify")
    stage(args.root, "augment", "classify")
    rows = []
    for name in args.models:
        stage(args.root, "train", name)
        stage(args.root, "evaluate", name)
        summary = disk.read_json(args.root / "reports/models" / name / paths.TRAIN_SUMMARY)
        metrics = disk.read_json(args.root / "reports/models" / name / "metrics.json")
        rows.append(
            {
                "model": name,
                "recipe": params["models"][name].get("train", {}) if params["models"][name] else {},
                "epochs": summary["epochs"],
                "steps": summary["steps"],
                "train_seconds": summary["train_seconds"],
                "accuracy": metrics["accuracy"],
            }
        )
    with contextlib.chdir(args.root):
        split = disk.read_json(paths.split_report("classify"))
        reference, seconds, epochs = reference_accuracy(args.reference, args.reference_steps, args.seed)
        train_images = len(load_split("classify", paths.augmented_train("classify"))[0])

    best = max(rows, key=lambda row: row["accuracy"])
    gap = reference - best["accuracy"]
    originals, tested = (sum(split["counts"][part].values()) for part in ("train", "test"))
    print(f"\n{args.label}: {originals} training images ({train_images} with copies), {tested} test\n")
    print("| model | epochs | steps | train s | test accuracy |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['model']} | {row['epochs']} | {row['steps']} | {row['train_seconds']:.0f} "
            f"| {row['accuracy']:.4f} |"
        )
    print(
        f"| plain PyTorch {args.reference} | {epochs} | {args.reference_steps} | {seconds:.0f} "
        f"| {reference:.4f} |"
    )
    print(
        f"\nbest default {best['model']} {best['accuracy']:.4f}; reference {reference:.4f}; "
        f"gap {gap * 100:.2f} points (goal ≤ {GOAL * 100:.1f})"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"carry_over_{args.label}.json"
    report = {
        "label": args.label,
        "data": {"source": args.source, "path": args.path, "copies": params["augment"]["copies"]},
        "train_images_augmented": train_images,
        "counts": split["counts"],
        "rows": rows,
        "reference": {
            "arch": args.reference,
            "steps": args.reference_steps,
            "epochs": epochs,
            "seed": args.seed,
            "accuracy": reference,
            "seconds": round(seconds, 1),
        },
        "gap": gap,
        "holds": bool(gap <= GOAL),
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
