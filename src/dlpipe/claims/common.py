"""What every claim's experiment shares: the data, a plain training loop, and the verdict's rule.

The data are scikit-learn's 1,797 handwritten digits at their own 8×8 pixels (values 0–16),
split 60/20/20 stratified by the claim's seed: small enough that a claim runs its settings on
three seeds in a minute or two on two cores. The loop is plain PyTorch on purpose: a claim
compares settings of one optimisation, step by step, and Lightning's set-up per run would cost
more than the run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

CLASSES = 10


@dataclass(frozen=True)
class Digits:
    """One seeded split's training and dev parts (its test fifth is held out, unused: the claims
    compare settings, they choose none); inputs N×1×8×8, standardised by the training split's
    mean and std unless ``raw`` (then 0–16, as scanned)."""

    x_train: Tensor
    y_train: Tensor
    x_dev: Tensor
    y_dev: Tensor


def digits(seed: int, raw: bool = False) -> Digits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    found = load_digits()
    x = found.images.astype(np.float32)[:, None]
    y = found.target.astype(np.int64)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
    x_dev, _, y_dev, _ = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    if not raw:
        mean, std = x_train.mean(), x_train.std()
        x_train, x_dev = ((part - mean) / std for part in (x_train, x_dev))
    arrays = (x_train, y_train, x_dev, y_dev)
    return Digits(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))


def subset(x: Tensor, y: Tensor, per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """``per_class`` seeded examples of each class."""
    generator = torch.Generator().manual_seed(seed)
    chosen = [
        members[torch.randperm(len(members), generator=generator)[:per_class]]
        for members in (torch.nonzero(y == label).flatten() for label in y.unique())
    ]
    index = torch.cat(chosen)
    return x[index], y[index]


Step = Callable[[nn.Module, Tensor, Tensor], Tensor]  # the loss of one batch


def cross_entropy(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(model(x), y)


def train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    steps: int,
    batch: int,
    seed: int,
    loss: Step = cross_entropy,
    schedule: Callable[[int], float] | None = None,
    transform: Callable[[Tensor], Tensor] | None = None,
) -> list[float]:
    """``steps`` steps on seeded random batches (each epoch a permutation); the batch losses.

    ``schedule(step)`` multiplies every group's initial learning rate; ``transform`` augments a
    batch's inputs. A loss that is not finite ends the run early (it diverged)."""
    generator = torch.Generator().manual_seed(seed)
    base = [group["lr"] for group in optimizer.param_groups]
    order, position, losses = torch.randperm(len(x), generator=generator), 0, []
    model.train()
    for module in model.modules():  # a frozen batch norm keeps its running averages, as frozen
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()
    for step in range(steps):
        if position + batch > len(x):
            order, position = torch.randperm(len(x), generator=generator), 0
        index = order[position : position + batch]
        position += batch
        if schedule is not None:
            for group, lr in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = lr * schedule(step)
        inputs = x[index] if transform is None else transform(x[index])
        value = loss(model, inputs, y[index])
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        losses.append(value.item())
        if not np.isfinite(losses[-1]):
            break
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    """Loss and accuracy on a whole split, in eval mode."""
    model.eval()
    logits = model(x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def seeded(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def exceeds(better: list[float], worse: list[float], spreads: float = 2.0) -> bool:
    """The rule of most verdicts: the mean of the per-seed differences ``better − worse`` more than
    ``spreads`` standard errors above 0. Paired, because both settings of a seed share its split
    and its first weights. With 5 seeds it says "confirmed" about 6% of the time when there is no
    difference (3 seeds: 9%): a sketch of evidence, not a significance test."""
    differences = [a - b for a, b in zip(better, worse, strict=True)]
    mean, sd = mean_sd(differences)
    return mean > 0 and mean > spreads * sd / len(differences) ** 0.5


EXCEEDS_RULE = "the mean of the per-seed differences > 2 standard errors"


def summary(values: list[float], places: int = 4) -> str:
    """ "mean ± sd" to ``places`` decimals."""
    mean, sd = mean_sd(values)
    return f"{mean:.{places}f} ± {sd:.{places}f}"


@dataclass
class Finding:
    """One claim's result, as the table shows it and reports/claims/NAME.json keeps it."""

    claim: str  # the course's statement
    setting: str  # what was run to test it
    measured: dict[str, list[float]]  # label -> one value per seed
    rule: str  # how the verdict follows from the numbers
    verdict: str  # "confirmed", "not confirmed here" or "corrected"
    note: str  # the numbers that decided, in words
    detail: dict | None = None  # per-layer or per-cell numbers behind the measured ones
