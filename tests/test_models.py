"""Every architecture: output shapes, published parameter counts, and the ability to overfit."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from conftest import REPO
from dlpipe.config import load_params
from dlpipe.models.complexity import multiply_accumulates
from dlpipe.models.registry import ARCHITECTURES, DETECTORS, VIDEO, build_model
from dlpipe.tasks.classify.task import ClassificationTask, predicted_labels
from dlpipe.training.optim import build_optimizer, build_schedule

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 224, 224)]
SHIPPED = load_params(REPO / "params.yaml")


def _count(model: torch.nn.Module, skip: tuple[str, ...] = ()) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(skip))


# detectors: tests/test_yolo.py; clips: tests/test_clips.py
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES.keys() - DETECTORS - VIDEO))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_output_shape(arch: str, shape: tuple[int, int, int]):
    torch.manual_seed(0)
    model = build_model(arch, shape[0], 7, shape[1]).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, *shape))
    assert logits.shape == (1, 7)
    assert torch.isfinite(logits).all()


def test_logistic_regression_uses_one_logit_for_two_classes():
    assert build_model("logreg", 1, 2, 28)(torch.zeros(3, 1, 28, 28)).shape == (3, 1)
    assert build_model("logreg", 1, 3, 28)(torch.zeros(3, 1, 28, 28)).shape == (3, 3)


@pytest.mark.parametrize(
    ("arch", "in_channels", "classes", "size", "published", "skip"),
    [
        ("lenet5", 1, 10, 32, 61_706, ()),
        ("vgg16", 3, 1000, 224, 138_357_544, ()),
        ("vgg16_bn", 3, 1000, 224, 138_365_992, ()),
        ("resnet18", 3, 1000, 224, 11_689_512, ()),
        ("alexnet", 3, 1000, 224, 61_100_840, ()),
        # GoogLeNet's 6.6M exclude the auxiliary classifiers, used in training only.
        ("inception", 3, 1000, 224, 6_624_904, ("aux1.", "aux2.")),
        ("resnet20", 3, 10, 32, 272_474, ()),
    ],
)
def test_parameter_counts_match_the_published_ones(arch, in_channels, classes, size, published, skip):
    assert _count(build_model(arch, in_channels, classes, size), skip) == published


def test_multiply_accumulates_of_lenet5_by_hand():
    # C1 28·28·6·25 + C3 10·10·16·150 + C5 400·120 + F6 120·84 + out 84·10
    expected = 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert multiply_accumulates(build_model("lenet5", 1, 10, 32), (1, 32, 32)) == expected


def _digits_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    images = torch.tensor(digits.images[:n], dtype=torch.float32).unsqueeze(1) / 16.0
    x = torch.nn.functional.interpolate(images, size=32, mode="bilinear", align_corners=False)
    return (x - 0.3) / 0.4, torch.tensor(digits.target[:n])


OVERFIT_STEPS, CHECK_EVERY = 150, 5


@pytest.mark.parametrize("name", sorted(SHIPPED.models))
def test_every_model_overfits_32_examples(name: str):
    """The shipped settings of each model can drive 32 training examples to 100% accuracy:
    its optimiser, lr, schedule, weight decay, label smoothing and the rest of its train
    section, each step a full batch (one epoch) as training_step computes it."""
    torch.manual_seed(0)
    x, y = _digits_batch()
    settings = SHIPPED.train_for(name)
    task = ClassificationTask(
        arch=SHIPPED.arch_of(name),
        in_channels=1,
        outputs=10,
        image_size=32,
        names=[str(i) for i in range(10)],
        options=SHIPPED.models[name].options,
        train=settings.model_dump(),
    )
    optimizer = build_optimizer(settings, [p for p in task.parameters() if p.requires_grad])
    schedule = build_schedule(settings, optimizer, OVERFIT_STEPS, steps_per_epoch=1)
    for step in range(OVERFIT_STEPS):
        task.train()
        loss = task.training_step((x, y), step)
        optimizer.zero_grad()
        loss.backward()
        if settings.gradient_clip is not None:
            torch.nn.utils.clip_grad_norm_(task.parameters(), settings.gradient_clip)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if (step + 1) % CHECK_EVERY and step + 1 < OVERFIT_STEPS:
            continue  # an eval-mode pass each step would cost a third of the test
        task.eval()
        with torch.no_grad():
            accuracy = (predicted_labels(task(x)) == y).float().mean().item()
        if accuracy == 1.0:
            break
    assert accuracy == 1.0, f"{name} reached {accuracy:.2f} in {OVERFIT_STEPS} steps"


def test_convnet_sizes_its_head_from_widths_and_hidden_and_refuses_too_many_stages():
    model = build_model("convnet", 3, 8, 64, {"widths": [16, 32, 64, 128], "hidden": 100})
    head = [m for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in head] == [(128 * 4 * 4, 100), (100, 8)]
    with pytest.raises(ValueError, match="4 stages halve a 8-pixel image below one pixel"):
        build_model("convnet", 3, 8, 8, {"widths": [8, 8, 8, 8]})


def test_a_plain_resnet_has_the_same_layers_and_no_shortcut():
    from dlpipe.models.resnet import BasicBlock, PlainBlock, cifar_resnet

    torch.manual_seed(0)
    plain, residual = cifar_resnet(1, 10, 20, shortcuts=False), cifar_resnet(1, 10, 20)
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9 and all(isinstance(b, PlainBlock) and b.downsample is None for b in blocks)
    shared = {k: v for k, v in residual.state_dict().items() if "downsample" not in k}
    assert sorted(shared) == sorted(plain.state_dict())  # the same convolutions, batch norms and head
    block = blocks[0].eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        alone = block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))
        assert torch.equal(block(x), alone)  # nothing of x added back
        assert not torch.equal(BasicBlock.forward(block, x), alone)
