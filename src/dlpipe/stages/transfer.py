"""transfer: the course's transfer-learning recipe, shown on the pipeline's own data.

Pretrain ``transfer.arch`` on the source classes, then fine-tune it on a few
examples per target class with its first blocks frozen (``weights.freeze``),
and compare with the same network trained from scratch on the same few
examples. Writes ``reports/transfer/metrics.json`` and one MLflow run.
"""

from __future__ import annotations

import torch

from dlpipe import disk, paths, tracking
from dlpipe.config import Params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.data.tensors import ArrayDataset, load_split
from dlpipe.errors import ConfigError
from dlpipe.evaluation.metrics import probabilities
from dlpipe.evaluation.outputs import predict_outputs
from dlpipe.tasks.classify.task import ClassificationTask
from dlpipe.training import weights
from dlpipe.training.callbacks import progress_callbacks
from dlpipe.training.trainer import build_trainer, fit

METRICS = paths.TRANSFER_METRICS


def resolve_classes(params: Params, class_names: list[str]) -> tuple[list[int], list[int]]:
    """Indices of the source and target classes (defaults: first half, second half)."""
    half = len(class_names) // 2
    chosen = []
    for key, names, default in (
        ("source_classes", params.transfer.source_classes, class_names[:half]),
        ("target_classes", params.transfer.target_classes, class_names[half:]),
    ):
        for name in names:
            if name not in class_names:
                known = ", ".join(class_names)
                raise ConfigError(f"transfer.{key} names unknown class {name!r} (classes: {known})")
        chosen.append([class_names.index(n) for n in (names or default)])
    if set(chosen[0]) & set(chosen[1]):
        raise ConfigError("transfer.source_classes and transfer.target_classes must not overlap")
    return chosen[0], chosen[1]


def subset(data: ArrayDataset, classes: list[int], per_class: int | None = None) -> ArrayDataset:
    """Examples of ``classes`` (the first ``per_class`` of each), relabelled 0..k-1."""
    keep: list[int] = []
    for cls in classes:
        found = torch.nonzero(data.y == cls).flatten().tolist()
        keep += found[:per_class] if per_class else found
    index = torch.tensor(sorted(keep))
    relabel = {cls: i for i, cls in enumerate(classes)}
    return ArrayDataset(data.x[index], torch.tensor([relabel[int(c)] for c in data.y[index]]))


def _task(params: Params, classes: list[str], shape: tuple[int, ...], epochs: int) -> ClassificationTask:
    # Its few examples fit in seconds: one process, whatever train.strategy says.
    train = params.train.in_one_process().model_copy(update={"epochs": epochs, "steps": None})
    return ClassificationTask(
        arch=params.transfer.arch,
        in_channels=shape[0],
        outputs=len(classes),
        image_size=shape[1],
        names=classes,
        options={},
        train=train.model_dump(),
    )


def _fit(params: Params, task: ClassificationTask, train: ArrayDataset, val: ArrayDataset) -> None:
    data = ArrayDataModule(train, val, task.hparams.names, params.train.batch_size, params.train.seed)
    trainer = build_trainer(
        task.train_params,
        logger=False,
        callbacks=progress_callbacks(),
        train_examples=len(train),
        root_dir=paths.RESUME / "transfer",
    )
    fit(trainer, task, datamodule=data)


def _accuracy(task: ClassificationTask, data: ArrayDataset) -> float:
    predicted = probabilities(predict_outputs(task.model, data.x)).argmax(axis=1)
    return round(float((torch.from_numpy(predicted) == data.y).float().mean()), 6)


def run(params: Params) -> None:
    loaded = {
        name: load_split("classify", paths.split_file("classify", name)) for name in ("train", "val", "test")
    }
    splits = {name: dataset for name, (dataset, _) in loaded.items()}
    class_names = loaded["train"][1]
    source, target = resolve_classes(params, class_names)
    shape = tuple(splits["train"].x.shape[1:])
    settings = params.transfer
    torch.manual_seed(params.train.seed)

    print(f"transfer: pretraining {settings.arch} on classes {[class_names[c] for c in source]}")
    pretrained = _task(params, [class_names[c] for c in source], shape, settings.pretrain_epochs)
    _fit(params, pretrained, subset(splits["train"], source), subset(splits["val"], source))

    target_names = [class_names[c] for c in target]
    few = subset(splits["train"], target, settings.target_examples_per_class)
    val, test = subset(splits["val"], target), subset(splits["test"], target)

    finetuned = _task(params, target_names, shape, settings.finetune_epochs)
    weights.load_matching(finetuned.model, pretrained.model.state_dict())
    weights.reset_head(finetuned.model)
    finetuned.frozen_blocks = weights.freeze(finetuned.model, settings.freeze)
    frozen_before = {
        k: v.clone()
        for k, v in finetuned.model.state_dict().items()
        if k.split(".")[0] in finetuned.frozen_blocks
    }
    print(f"transfer: fine-tuning on {len(few)} examples with {finetuned.frozen_blocks or 'nothing'} frozen")
    _fit(params, finetuned, few, val)
    unchanged = all(torch.equal(v, finetuned.model.state_dict()[k]) for k, v in frozen_before.items())

    torch.manual_seed(params.train.seed)
    scratch = _task(params, target_names, shape, settings.finetune_epochs)
    print(f"transfer: training from scratch on the same {len(few)} examples")
    _fit(params, scratch, few, val)

    metrics = {
        "architecture": settings.arch,
        "source_classes": [class_names[c] for c in source],
        "target_classes": target_names,
        "target_train_examples": len(few),
        "frozen_blocks": finetuned.frozen_blocks,
        "frozen_weights_unchanged": unchanged,
        "trainable_parameters": sum(p.numel() for p in finetuned.model.parameters() if p.requires_grad),
        "source_test_accuracy": _accuracy(pretrained, subset(splits["test"], source)),
        "finetuned_test_accuracy": _accuracy(finetuned, test),
        "scratch_test_accuracy": _accuracy(scratch, test),
    }
    disk.write_json(METRICS, metrics)
    run_id = tracking.create_run(
        params.tracking,
        run_name="transfer",
        tags={"architecture": settings.arch, **tracking.source_tags("dvc repro transfer")},
        logged={"transfer": settings.model_dump(), "train": params.train.model_dump()},
    )
    accuracies = ("source_test_accuracy", "finetuned_test_accuracy", "scratch_test_accuracy")
    tracking.log_metrics(params.tracking, run_id, {key: metrics[key] for key in accuracies})
    mlflow_client = tracking.client(params.tracking)
    mlflow_client.log_artifact(run_id, str(METRICS), "transfer")
    mlflow_client.set_terminated(run_id)
    print(
        f"transfer: source {metrics['source_test_accuracy']:.4f}; target with {len(few)} examples: "
        f"fine-tuned {metrics['finetuned_test_accuracy']:.4f}, "
        f"from scratch {metrics['scratch_test_accuracy']:.4f}"
    )
