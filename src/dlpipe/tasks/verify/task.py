"""Verification as a LightningModule: any zoo network whose last layer, L2-normalised, is the
embedding (models/embedder.py), trained on batches of P identities × K photos with the batch-hard
triplet loss (triplets.py) or logistic regression on pairs (pairs.py).

Each validation epoch embeds the whole validation split (identities never trained on) and logs
what the evaluation reports: ROC AUC, 5- and 20-way one-shot accuracy, and the spread of the
embeddings, the collapse monitor (the mean distance to their mean; near 0, everything is alike).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dlpipe.config import Params, TrainParams
from dlpipe.errors import ConfigError
from dlpipe.models.embedder import Embedder
from dlpipe.tasks.verify import scores
from dlpipe.tasks.verify.pairs import pair_loss
from dlpipe.tasks.verify.scores import WAYS
from dlpipe.tasks.verify.triplets import batch_hard
from dlpipe.training.module import Task


def spread(embeddings: Tensor) -> Tensor:
    """The mean distance of the embeddings to their mean."""
    return (embeddings - embeddings.mean(dim=0)).norm(dim=1).mean()


class VerifyTask(Task):
    family = "verify"
    metrics = ("spread",)
    val_metrics = ("auc", *(f"way{ways}" for ways in WAYS))

    def __init__(
        self, *args: Any, loss: str = "triplet", margin: float = 0.2, episodes: int = 1000, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.model = Embedder(self.model)
        self.margin, self.episodes = margin, episodes
        # pair: the logistic regression on |f(a) - f(b)|; trained here, not part of the embedder
        self.pair_head = nn.Linear(self.hparams["outputs"], 1) if loss == "pair" else None
        self._val: list[tuple[Tensor, Tensor]] = []

    @staticmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        return params.verify.embedding

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        settings = params.verify
        people = len(data.datasets["val"].y.unique())
        ways = int(settings.primary_metric[3:]) if settings.primary_metric.startswith("way") else 0
        if people < ways:
            raise ConfigError(
                f"verify.primary_metric {settings.primary_metric} needs {ways} validation identities, "
                f"the val split has {people}: choose auc"
            )
        return {"loss": settings.loss, "margin": settings.margin, "episodes": settings.episodes}

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.pair_head is not None:
            return pair_loss(outputs, targets, self.pair_head)
        return batch_hard(outputs, targets, self.margin)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return {"spread": spread(outputs) * len(targets)}

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"spread": sums["spread"] / sums["examples"]}

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self._val.append((self.model(x).detach(), y))

    def _gathered(self) -> tuple[Tensor, Tensor]:
        """The whole validation split's embeddings and identities, from every process."""
        embeddings = torch.cat([e for e, _ in self._val])
        identities = torch.cat([i for _, i in self._val])
        self._val = []
        if self.trainer.world_size == 1:
            return embeddings, identities
        size = torch.tensor(len(identities), device=identities.device)
        most = int(self.all_gather(size).max())
        padded = torch.cat([embeddings, embeddings.new_zeros(most - len(embeddings), embeddings.shape[1])])
        owners = torch.cat([identities, identities.new_full((most - len(identities),), -1)])
        embeddings, identities = self.all_gather(padded).flatten(0, 1), self.all_gather(owners).flatten()
        kept = identities >= 0
        return embeddings[kept], identities[kept]

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()  # the training epoch's sums
        if not self._val:
            return
        embeddings, identities = self._gathered()
        self.log("val_loss", self.loss(embeddings, identities))
        self.log("val_spread", spread(embeddings))
        found, owners = embeddings.float().cpu().numpy(), identities.cpu().numpy()
        distances, same = scores.pair_distances(found, owners)
        self.log("val_auc", scores.roc(distances, same)["auc"])
        for ways in WAYS:
            if ways > len(np.unique(owners)):  # a user's few validation people
                continue
            accuracy = scores.one_shot_accuracy(found, owners, ways, self.episodes, seed=0)
            self.log(f"val_way{ways}", accuracy, prog_bar=ways == 20)


TASK = VerifyTask
