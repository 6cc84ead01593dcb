"""An embedding f(x): a zoo network's last layer, L2-normalised (FaceNet, Schroff et al., 2015).

On the unit sphere every distance lies in [0, 2], so one margin and one threshold mean the same
for any network; the verify family wraps its network in this, and the exported model gives the
normalised embedding a user stores and compares.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class Embedder(nn.Module):
    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor | tuple:
        outputs = self.network(x)
        if isinstance(outputs, tuple):  # Inception's auxiliary heads, in training
            return tuple(None if out is None else F.normalize(out, dim=1) for out in outputs)
        return F.normalize(outputs, dim=1)
