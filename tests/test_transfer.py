"""Transfer learning: weights from another model, frozen blocks that stay frozen."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from conftest import REPO
from dlpipe.config import load_params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.data.tensors import ArrayDataset
from dlpipe.errors import DataError
from dlpipe.models.registry import build_model
from dlpipe.stages import split, transfer
from dlpipe.tasks.classify.task import ClassificationTask
from dlpipe.training import weights as reuse
from dlpipe.training.trainer import build_trainer


def _task(arch: str, freeze: str | int) -> ClassificationTask:
    params = load_params().train.model_copy(update={"epochs": 1, "steps": None, "freeze": freeze})
    task = ClassificationTask(arch, 1, 10, 32, [str(i) for i in range(10)], {}, params.model_dump())
    task.frozen_blocks = reuse.freeze(task.model, freeze)
    return task


@pytest.mark.parametrize(
    ("arch", "freeze", "frozen"),
    [
        ("lenet5", "all_but_head", ["features"]),
        ("resnet20", 1, ["stem"]),
        ("resnet20", "all_but_head", ["stem", "stages"]),
    ],
)
def test_frozen_parameters_and_statistics_do_not_change_in_fine_tuning(project, arch, freeze, frozen):
    project()
    torch.manual_seed(0)
    task = _task(arch, freeze)
    assert task.frozen_blocks == frozen
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    data = ArrayDataset(torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,)))
    module = ArrayDataModule(data, data, task.hparams.names, batch_size=16, seed=0)
    trainer = build_trainer(
        task.train_params, logger=False, callbacks=[], train_examples=64, root_dir=project()
    )
    trainer.fit(task, datamodule=module)
    after = task.model.state_dict()
    for key, value in before.items():
        if key.split(".")[0] in frozen:
            assert torch.equal(value, after[key]), key
    head = reuse.blocks(task.model)[-1][0]
    assert any(not torch.equal(v, after[k]) for k, v in before.items() if k.startswith(head))


def test_freezing_every_block_is_refused():
    from dlpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="train.freeze must leave the head trainable"):
        reuse.freeze(build_model("lenet5", 1, 10, 32), 2)


def test_weights_load_where_names_and_shapes_match():
    source = build_model("lenet5", 1, 5, 32)
    target = build_model("lenet5", 1, 10, 32)
    fresh = reuse.load_matching(target, source.state_dict())
    assert fresh == ["classifier.7.bias", "classifier.7.weight"]  # the head: 5 vs 10 classes
    assert torch.equal(target.features[0].weight, source.features[0].weight)


def test_torchvision_weights_missing_from_the_cache_are_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(
        DataError, match=r"resnet18-.*\.pth: torchvision weights ResNet18_Weights.IMAGENET1K_V1 are not"
    ):
        reuse.initial_state("torchvision:ResNet18_Weights.IMAGENET1K_V1")


def test_torchvision_weights_in_the_cache_are_used(monkeypatch, tmp_path):
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    weights = torchvision.models.get_weight("ResNet18_Weights.IMAGENET1K_V1")
    reference = torchvision.models.resnet18(weights=None)
    (tmp_path / "checkpoints").mkdir()
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / weights.url.rsplit("/", 1)[-1])
    model = build_model("resnet18", 3, 10, 224)
    fresh = reuse.load_matching(model, reuse.initial_state("torchvision:ResNet18_Weights.IMAGENET1K_V1"))
    assert fresh == ["fc.bias", "fc.weight"]
    assert torch.equal(model.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)


def test_fine_tuning_beats_scratch_on_the_shipped_setting_and_leaves_frozen_weights_intact(
    project, monkeypatch
):
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())["transfer"]
    root = project({"transfer": shipped})  # not the tiny epochs of the other tests
    split.run(load_params())
    fitted = []  # (task, weights before, weights after) of each fit: pretrain, fine-tune, scratch
    fit = transfer._fit

    def recording_fit(params, task, train, val):
        before = {k: v.detach().clone() for k, v in task.model.state_dict().items()}
        fit(params, task, train, val)
        fitted.append((task, before, {k: v.detach().clone() for k, v in task.model.state_dict().items()}))

    monkeypatch.setattr(transfer, "_fit", recording_fit)
    transfer.run(load_params())
    metrics = json.loads((root / "reports/transfer/metrics.json").read_text())
    assert metrics["source_classes"] == ["0", "1", "2", "3", "4"]
    assert metrics["target_classes"] == ["5", "6", "7", "8", "9"]
    assert metrics["target_train_examples"] == 25
    assert metrics["frozen_blocks"] == ["features"]
    assert metrics["finetuned_test_accuracy"] > metrics["scratch_test_accuracy"]

    (_, _, pretrained), (finetuned, before, after), _ = fitted
    frozen = [key for key in before if key.startswith("features.")]
    assert frozen and finetuned.frozen_blocks == ["features"]
    for key in frozen:  # byte for byte: the pretrained features, untouched by fine-tuning
        assert after[key].numpy().tobytes() == before[key].numpy().tobytes(), key
        assert after[key].numpy().tobytes() == pretrained[key].numpy().tobytes(), key
    assert metrics["frozen_weights_unchanged"] is True
    head = [key for key in before if key.startswith("classifier.7.")]
    assert head and all(not torch.equal(before[key], after[key]) for key in head)  # the head learnt


def test_init_from_and_freeze_reach_the_train_stage(project):
    """train.init_from starts a model from another model's weights and train.freeze keeps the
    named blocks as they came: after training, the student's frozen features equal its trained
    teacher's byte for byte (a fresh start would hold the seed's initial weights); with freeze
    none the same student moves them."""
    from dlpipe import paths
    from dlpipe.models.checkpoint import load_model
    from dlpipe.stages import augment, train

    def student(freeze: str) -> dict:
        return {"arch": "lenet5", "train": {"epochs": 1, "init_from": "lenet5", "freeze": freeze}}

    project({"models": {"lenet5": {"train": {"epochs": 1}}, "student": student("all_but_head")}})
    split.run(load_params())
    augment.run(load_params())
    train.run(load_params(), "lenet5")
    train.run(load_params(), "student")
    teacher = load_model(paths.model_file("lenet5"))[0].features.state_dict()
    learned = load_model(paths.model_file("student"))[0].features.state_dict()
    assert all(torch.equal(learned[key], teacher[key]) for key in teacher)
    summary = json.loads((paths.report_dir("student") / paths.TRAIN_SUMMARY).read_text())
    assert summary["trainable_parameters"] < summary["parameters"]

    project({"models": {"lenet5": {"train": {"epochs": 1}}, "student": student("none")}})
    train.run(load_params(), "student")
    moved = load_model(paths.model_file("student"))[0].features.state_dict()
    assert not torch.equal(moved["0.weight"], teacher["0.weight"])
