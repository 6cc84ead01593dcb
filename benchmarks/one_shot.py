"""One-shot recognition of alphabets never trained on: a batch-hard triplet embedder on the
built-in glyphs, the calibration for the verification family.

Trains on the identities of ``--train`` alphabets (data/glyphs.py; look-alikes merged),
``--photos`` photos each, in batches of P identities × K photos, with the batch-hard triplet
loss (tasks/verify/triplets.py) on L2-normalised 128-d embeddings of a zoo ``convnet``.
The identities of ``--unseen`` alphabets are split in half by identity (seeded): the
validation half chooses the verification threshold, the test half is scored
(tasks/verify/scores.py): ROC AUC, TAR at FAR 1e-2 and 1e-3, accuracy at the validation
threshold against the test's own best, 5- and 20-way one-shot accuracy (1,000 seeded
episodes each) and the embeddings' spread (mean distance to their mean: near 0 is a
collapse). Prints a table per evaluation and writes benchmarks/results/one_shot.json.

    .venv/bin/python benchmarks/one_shot.py [--steps 1500] [--evaluate-every 500] [--photos 40]
        [--loss ours|squared|library] [--seed 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from throughput import report
from torch.nn import functional as F

from dlpipe.data.glyphs import make_glyphs
from dlpipe.models.registry import build_model
from dlpipe.tasks.verify import scores
from dlpipe.tasks.verify.triplets import batch_hard

RESULTS = Path(__file__).parent / "results" / "one_shot.json"


def embed(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        found = [
            F.normalize(model(_tensor(images[start : start + 512])), dim=1)
            for start in range(0, len(images), 512)
        ]
    model.train()
    return torch.cat(found).numpy()


def _tensor(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images).float()[:, None] / 255.0 - 0.5) / 0.5


def evaluate(model, val, test, seed: int) -> dict:
    val_distances, val_same = scores.pair_distances(embed(model, val.images), val.identities)
    threshold, _ = scores.best_threshold(val_distances, val_same)
    embeddings = embed(model, test.images)
    distances, same = scores.pair_distances(embeddings, test.identities)
    measured = scores.roc(distances, same)
    _, best = scores.best_threshold(distances, same)
    at_val = scores.balanced_accuracy(distances, same, threshold)
    return {
        "auc": round(measured["auc"], 4),
        "tar_far_1e-2": round(measured["tar_at_far_1e-2"], 4),
        "tar_far_1e-3": round(measured["tar_at_far_1e-3"], 4),
        "acc_val_threshold": round(at_val, 4),
        "acc_best_threshold": round(best, 4),
        "way5": scores.one_shot_accuracy(embeddings, test.identities, 5, 1000, seed),
        "way20": scores.one_shot_accuracy(embeddings, test.identities, 20, 1000, seed),
        "spread": round(float(np.linalg.norm(embeddings - embeddings.mean(0), axis=1).mean()), 4),
    }


def _criterion(name: str, margin: float):
    """The loss of a batch's embeddings and identities. The library's reducer averages over the
    triplets whose loss is not zero, as it ships."""
    if name == "library":
        from pytorch_metric_learning import losses, miners

        miner, loss = miners.BatchHardMiner(), losses.TripletMarginLoss(margin=margin)
        return lambda embeddings, identities: loss(embeddings, identities, miner(embeddings, identities))
    return partial(batch_hard, margin=margin, squared=name == "squared")


def subset(glyphs, keep: np.ndarray):
    chosen = np.isin(glyphs.identities, keep)
    return type(glyphs)(glyphs.images[chosen], glyphs.identities[chosen], glyphs.names, glyphs.alphabets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", default=["latin", "cyrillic", "greek"])
    parser.add_argument("--unseen", nargs="+", default=["armenian", "georgian"])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--evaluate-every", type=int, default=500)
    parser.add_argument("--identities", type=int, default=32, help="P: identities per batch")
    parser.add_argument("--per-identity", type=int, default=4, help="K: photos of each per batch")
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--loss",
        choices=["ours", "squared", "library"],
        default="ours",
        help="batch_hard on distances, or on squares; or pytorch-metric-learning's loss and miner",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = make_glyphs(args.train, args.photos, args.size, seed=args.seed)
    unseen = make_glyphs(args.unseen, 20, args.size, seed=args.seed + 1)
    order = rng.permutation(len(unseen.names))
    val, test = subset(unseen, order[: len(order) // 2]), subset(unseen, order[len(order) // 2 :])
    model = build_model("convnet", 1, 128, args.size, {"widths": [32, 64, 128], "hidden": 256})
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    photos = {identity: np.flatnonzero(train.identities == identity) for identity in range(len(train.names))}
    criterion = _criterion(args.loss, args.margin)
    rows, training = [], 0.0
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        chosen = rng.choice(len(train.names), size=args.identities, replace=False)
        picked = np.concatenate([rng.choice(photos[i], args.per_identity, replace=False) for i in chosen])
        embeddings = F.normalize(model(_tensor(train.images[picked])), dim=1)
        loss = criterion(embeddings, torch.from_numpy(train.identities[picked]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        training += time.perf_counter() - start
        if step % args.evaluate_every == 0 or step == args.steps:
            row = {"step": step, "train_s": round(training, 1), "loss": round(float(loss.detach()), 4)}
            rows.append({**row, **evaluate(model, val, test, args.seed)})
            print(rows[-1], flush=True)
    held = [len(np.unique(split.identities)) for split in (val, test)]
    print(
        f"train {len(train.names)} identities of {', '.join(args.train)}; "
        f"val {held[0]} and test {held[1]} of {', '.join(args.unseen)}"
    )
    report(rows, list(rows[0]), args.out)


if __name__ == "__main__":
    main()
