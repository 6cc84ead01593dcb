"""Training throughput: dlpipe's LightningModule + DataModule + Trainer against a plain PyTorch loop.

Same model (the shipped params.yaml settings), batch, data, optimiser and
threads; both time only the steps after a warm-up. Prints a table and writes
benchmarks/results/throughput.json.

    .venv/bin/python benchmarks/throughput.py [--models lenet5 resnet20] [--steps 100] [--batch 64]

Without --models it measures every model of params.yaml (the wide ones take minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from dlpipe.config import load_params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.data.tensors import ArrayDataset
from dlpipe.tasks.classify.task import ClassificationTask, classification_loss
from dlpipe.training.optim import build_optimizer
from dlpipe.training.trainer import build_trainer

RESULTS = Path(__file__).parent / "results" / "throughput.json"
SHAPE = (1, 32, 32)
CLASSES = 10


class StepClock(pl.Callback):
    """Wall time from the first timed batch to the end of the last one (validation comes after)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def _task(params, name: str, memory_format: str | None = None) -> ClassificationTask:
    update = {"epochs": 1, "schedule": "constant"}
    if memory_format is not None:
        update["memory_format"] = memory_format
    train = params.train_for(name).model_copy(update=update)
    return ClassificationTask(
        params.arch_of(name),
        SHAPE[0],
        CLASSES,
        SHAPE[1],
        [str(i) for i in range(CLASSES)],
        params.models[name].options,
        train.model_dump(),
    )


def dlpipe_seconds(
    params, name: str, data: ArrayDataset, batch: int, warmup: int, memory_format: str | None = None
) -> float:
    torch.manual_seed(0)
    task = _task(params, name, memory_format)
    clock = StepClock(warmup)
    module = ArrayDataModule(data, data, task.hparams.names, batch, seed=0)
    trainer = build_trainer(
        task.train_params,
        logger=False,
        callbacks=[clock],
        train_examples=len(data),
        root_dir=Path("/tmp/dlpipe-bench"),
    )
    trainer.fit(task, datamodule=module)
    return clock.end - clock.start


def plain_seconds(params, name: str, data: ArrayDataset, batch: int, warmup: int) -> float:
    torch.manual_seed(0)
    task = _task(params, name)
    model, train = task.model.train(), task.train_params
    layout = torch.channels_last if train.memory_format == "channels_last" else torch.contiguous_format
    model.to(memory_format=layout)  # the same layout as dlpipe's, so the ratio is the framework's cost
    optimizer = build_optimizer(train, model.parameters())
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    start = 0.0
    for step in range(len(data) // batch):
        if step == warmup:
            start = time.perf_counter()
        index = order[step * batch : (step + 1) * batch]
        x, y = data.x[index].contiguous(memory_format=layout), data.y[index]
        outputs = model(x)
        logits = outputs[0] if isinstance(outputs, tuple) else outputs
        loss = classification_loss(logits, y, train.label_smoothing)
        if isinstance(outputs, tuple):
            for aux in outputs[1:]:
                loss = loss + train.aux_loss_weight * classification_loss(aux, y, train.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def parse_arguments(description: str, steps: int, warmup: int) -> argparse.Namespace:
    """The options every training-step benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="*", help="models of params.yaml's models (default: all)")
    parser.add_argument("--steps", type=int, default=steps, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; the median is kept")
    return parser.parse_args()


def random_images(args: argparse.Namespace) -> ArrayDataset:
    """Enough random digits-shaped images for the warm-up and timed steps."""
    total = (args.steps + args.warmup) * args.batch
    return ArrayDataset(torch.randn(total, *SHAPE), torch.randint(0, CLASSES, (total,)))


def report(rows: list[dict], columns: list[str], path: Path) -> None:
    """Print the chosen columns as a table and write every row to ``path`` as JSON."""
    widths = [max(len(column), *(len(str(row[column])) for row in rows)) + 2 for column in columns]
    print("".join(column.rjust(width) for column, width in zip(columns, widths, strict=True)))
    for row in rows:
        print("".join(str(row[column]).rjust(width) for column, width in zip(columns, widths, strict=True)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written: {path}")


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0], steps=100, warmup=5)
    params = load_params()
    data = random_images(args)
    images = args.steps * args.batch
    rows = []
    for name in args.models or list(params.models):
        plain, ours = [], []
        for _ in range(args.repeats):  # alternate, so machine noise hits both alike
            plain.append(plain_seconds(params, name, data, args.batch, args.warmup))
            ours.append(dlpipe_seconds(params, name, data, args.batch, args.warmup))
        plain_s, ours_s = sorted(plain)[len(plain) // 2], sorted(ours)[len(ours) // 2]
        rows.append(
            {
                "model": name,
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "plain_images_per_s": round(images / plain_s, 1),
                "dlpipe_images_per_s": round(images / ours_s, 1),
                "time_ratio": round(ours_s / plain_s, 3),
            }
        )
    report(rows, ["model", "plain_images_per_s", "dlpipe_images_per_s", "time_ratio"], RESULTS)


if __name__ == "__main__":
    main()
