"""Training techniques of the `train` section: each checked against its definition."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import shipped
from dlpipe.errors import ConfigError
from dlpipe.models.registry import ARCHITECTURES, DETECTORS, VIDEO, build_model
from dlpipe.tasks.classify.task import ClassificationTask
from dlpipe.training import mixup
from dlpipe.training.regularization import l2_penalty, set_keep_prob
from dlpipe.training.smoothing import BiasCorrectedAverage
from dlpipe.training.trainer import build_trainer


def _task(arch: str = "lenet5", options: dict | None = None, **train) -> ClassificationTask:
    settings = shipped(
        "train", **{"accelerator": "cpu", "devices": 1, "schedule": "constant", **train}
    ).model_dump()
    return ClassificationTask(arch, 1, 10, 32, [str(i) for i in range(10)], options or {}, settings)


def _loaders(examples: int = 64) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(examples, 1, 32, 32, generator=generator)
    y = torch.randint(0, 10, (examples,), generator=generator)
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=32), DataLoader(data, batch_size=32)


def _fit(task: ClassificationTask, tmp_path, **trainer_options) -> pl.Trainer:
    trainer = build_trainer(
        task.train_params, logger=False, callbacks=[], train_examples=64, root_dir=tmp_path
    )
    for key, value in trainer_options.items():
        setattr(trainer, key, value)
    trainer.fit(task, *_loaders())
    return trainer


# mixup and manifold mixup


def test_mixup_targets_are_convex_combinations_that_sum_to_one():
    y = torch.tensor([0, 1, 2, 3])
    permutation = torch.tensor([3, 2, 1, 0])
    targets = mixup.mixed_targets(y, permutation, 0.7, num_classes=5)
    assert torch.allclose(targets.sum(dim=1), torch.ones(4))
    assert targets[0, 0] == pytest.approx(0.7) and targets[0, 3] == pytest.approx(0.3)
    assert ((targets >= 0) & (targets <= 1)).all()
    x = torch.arange(4.0).reshape(4, 1)
    assert mixup.mix(x, permutation, 0.7)[:, 0].tolist() == pytest.approx([0.9, 1.3, 1.7, 2.1])


def test_lambda_follows_beta_alpha_alpha():
    torch.manual_seed(0)
    draws = torch.tensor([mixup.sample_lambda(0.2) for _ in range(2000)])
    assert draws.min() >= 0 and draws.max() <= 1
    assert draws.mean() == pytest.approx(0.5, abs=0.05)
    assert ((draws < 0.1) | (draws > 0.9)).float().mean() > 0.5  # Beta(0.2, 0.2) is U-shaped


def test_manifold_mixup_mixes_the_chosen_layer_and_nothing_before_it():
    torch.manual_seed(0)
    model = build_model("lenet5", 1, 10, 32).eval()
    x = torch.randn(6, 1, 32, 32)
    permutation, lam = torch.tensor([5, 4, 3, 2, 1, 0]), 0.6
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.features[0].register_forward_hook(lambda m, i, o: seen.__setitem__("c1", o.detach())),
        model.features[3].register_forward_hook(lambda m, i, o: seen.__setitem__("c3", o.detach())),
        model.features[4].register_forward_pre_hook(lambda m, i: seen.__setitem__("after_c3", i[0].detach())),
    ]
    model(x)
    clean = dict(seen)
    assert "features.3" in mixup.mixing_points(model)
    with mixup.mixing_at(model, "features.3", permutation, lam):
        model(x)
    for hook in hooks:
        hook.remove()
    assert torch.equal(seen["c1"], clean["c1"])  # the layers before the point are untouched
    assert torch.allclose(seen["after_c3"], lam * clean["c3"] + (1 - lam) * clean["c3"][permutation])
    model(x)  # the hook is gone once the context ends
    assert len(model.features[3]._forward_hooks) == 0


def test_manifold_mixup_has_points_in_every_architecture_with_hidden_layers():
    for arch in ARCHITECTURES.keys() - DETECTORS - VIDEO:
        points = mixup.mixing_points(build_model(arch, 1, 10, 32))
        assert (points == []) == (arch == "logreg"), arch
        assert not any(point.startswith("aux") for point in points), arch


def test_manifold_mixup_on_a_model_without_hidden_layers_is_a_clear_error():
    with pytest.raises(
        ConfigError, match="train.manifold_mixup_alpha is set, but logreg has no hidden layer"
    ):
        _task("logreg", manifold_mixup_alpha=0.2)


def test_training_step_trains_on_the_mixed_batch():
    task = _task(mixup_alpha=0.4, label_smoothing=0.0)
    x, y = torch.randn(8, 1, 32, 32), torch.arange(8) % 10
    torch.manual_seed(3)
    loss = task.training_step((x, y), 0).detach()
    torch.manual_seed(3)  # replay the same draws: lambda, then the permutation
    lam = mixup.sample_lambda(0.4)
    permutation = torch.randperm(8)
    targets = mixup.mixed_targets(y, permutation, lam, 10)
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(task.model(mixup.mix(x, permutation, lam)), targets)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    # and it differs from the loss on the unmixed batch
    with torch.no_grad():
        unmixed = torch.nn.functional.cross_entropy(task.model(x), y)
    assert float(loss) != pytest.approx(float(unmixed), rel=1e-3)


# dropout, batch norm, L2


def test_dropout_and_batch_norm_differ_between_train_and_eval():
    torch.manual_seed(0)
    model = build_model("lenet5", 1, 10, 32, {"dropout": 0.5, "batch_norm": True})
    x = torch.randn(8, 1, 32, 32)
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout draws new masks
    model.eval()
    assert torch.equal(model(x), model(x))
    # In eval, batch norm uses running statistics: an example's output ignores the rest of its batch.
    assert torch.allclose(model(x[:1]), model(x)[:1], atol=1e-6)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x[:2])[:1], model(x)[:1], atol=1e-4)


def test_keep_prob_sets_every_dropout_layer():
    model = build_model("alexnet", 1, 10, 32, {"width": 0.25})
    assert set_keep_prob(model, 0.8) == 2
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == pytest.approx([0.2, 0.2])
    with pytest.raises(ConfigError, match="train.keep_prob is set, but logreg has no dropout layer"):
        _task("logreg", keep_prob=0.5)


def test_explicit_l2_penalty_equals_its_formula():
    model = build_model("mlp_shallow", 1, 10, 8, {"hidden": 4})
    weights = [model.features[1].weight, model.classifier.weight]  # biases are not penalised
    expected = 0.3 / (2 * 16) * sum(float((w.detach() ** 2).sum()) for w in weights)
    assert float(l2_penalty(model, 0.3, batch_size=16).detach()) == pytest.approx(expected)


def test_l2_penalty_shrinks_weights(tmp_path):
    norms = {}
    for lam in (0.0, 50.0):
        torch.manual_seed(0)
        task = _task(epochs=2, lr=0.01, weight_decay=0.0, l2_penalty=lam)
        _fit(task, tmp_path)
        norms[lam] = float(sum((w.detach() ** 2).sum() for w in task.model.parameters() if w.ndim > 1))
    assert norms[50.0] < 0.8 * norms[0.0]


# early stopping, gradient clipping


def test_early_stopping_stops_when_the_metric_stalls(tmp_path):
    # An lr of 1e-12 leaves the weights, and so val_loss, unchanged: patience 1 stops after epoch 2.
    task = _task(epochs=10, lr=1e-12, early_stopping={"monitor": "val_loss", "patience": 1})
    trainer = _fit(task, tmp_path)
    assert trainer.current_epoch == 2
    without = _fit(_task(epochs=4, lr=1e-12), tmp_path)
    assert without.current_epoch == 4


def test_gradient_clipping_bounds_the_step(tmp_path):
    steps = {}
    for clip in (None, 0.01):
        torch.manual_seed(0)
        task = _task(epochs=1, optimizer="sgd", momentum=0.0, weight_decay=0.0, lr=1.0, gradient_clip=clip)
        before = torch.cat([p.detach().clone().reshape(-1) for p in task.parameters()])
        _fit(task, tmp_path, limit_train_batches=1)
        after = torch.cat([p.detach().reshape(-1) for p in task.parameters()])
        steps[clip] = float((after - before).norm())
    assert steps[0.01] == pytest.approx(0.01, rel=1e-3)  # lr 1 times a gradient clipped to norm 0.01
    assert steps[None] > 0.05


# the smoothed loss


def test_bias_corrected_average_of_a_constant_is_the_constant():
    average = BiasCorrectedAverage(0.9)
    for _ in range(5):
        assert float(average.update(torch.tensor(3.0))) == pytest.approx(3.0)


def test_bias_corrected_average_matches_its_formula():
    average, values, v = BiasCorrectedAverage(0.5), [4.0, 2.0, 1.0], 0.0
    for t, x in enumerate(values, start=1):
        v = 0.5 * v + 0.5 * x
        assert float(average.update(torch.tensor(x))) == pytest.approx(v / (1 - 0.5**t))
    with pytest.raises(ValueError):
        _ = BiasCorrectedAverage(0.9).value


def test_config_rejects_incompatible_techniques():
    with pytest.raises(ValueError, match="onecycle, which warms up by itself"):
        shipped("train", schedule="onecycle", warmup_steps=10)
    with pytest.raises(ValueError, match="both mixup_alpha and manifold_mixup_alpha"):
        shipped("train", mixup_alpha=0.2, manifold_mixup_alpha=0.2)


@pytest.mark.parametrize(
    ("memory_format", "layout"),
    [("channels_last", torch.channels_last), ("contiguous", torch.contiguous_format)],
)
def test_memory_format_sets_the_layout_of_conv_weights_and_batches_not_the_values(memory_format, layout):
    def colour_task(memory_format: str) -> ClassificationTask:
        settings = shipped("train", accelerator="cpu", devices=1, memory_format=memory_format).model_dump()
        return ClassificationTask("resnet20", 3, 10, 32, [str(i) for i in range(10)], {}, settings)

    task, reference = colour_task(memory_format), colour_task("contiguous")
    reference.load_state_dict(task.state_dict())
    task.setup("fit")
    convs = [m.weight for m in task.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=layout) for w in convs)
    x, _ = task.on_after_batch_transfer((torch.randn(4, 3, 32, 32), torch.zeros(4)), 0)
    assert x.is_contiguous(memory_format=layout)
    assert x.is_contiguous() == (memory_format == "contiguous")
    task.eval()
    reference.eval()
    torch.testing.assert_close(task(x), reference(x.contiguous()), rtol=1e-4, atol=1e-5)
