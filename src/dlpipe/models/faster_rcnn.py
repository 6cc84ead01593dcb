"""A two-stage detector (Ren et al., 2015, "Faster R-CNN"): torchvision's ``FasterRCNN`` on
a small backbone of our own, with no pretrained weights of any kind.

Stage one, the region proposal network, slides over the backbone's feature map and scores
anchor boxes of ``anchor_sides`` (shares of the image side) and ``aspect_ratios`` (height
over width) as object or not, each refined to a proposal; NMS keeps the best ``proposals``.
Stage two crops each proposal from the feature map (RoI Align, 7×7), and a two-layer head
classifies it (the digits and background) and refines its box once per class.

The backbone is YOLO's (models/yolo.py) and its stride-8 map suits digits 12–40 pixels
tall; torchvision's stock builders (ResNet-50 or MobileNet-v3 with FPN) are made for
ImageNet-scale objects, download weights unless told not to, and learned next to nothing
from the built-in scenes in ten CPU-minutes.

The network's output is every proposal's box and score for every class (N × proposals·C ×
6 rows of x1, y1, x2, y2 in shares of the image side, score, class), best first, padded
with rows of −1: the score threshold and NMS per class come after it, in the function the
other detectors use (tasks/detect/detectors.py), so that ``detect.score_threshold`` and
``detect.iou_threshold`` act at evaluation, not only at training.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from dlpipe.models.init import initialize
from dlpipe.models.yolo import backbone

PADDING = -1.0  # a row past an image's detections: below any score threshold, of no class
ROI_SIDE = 7  # the RoI Align crop of the feature map, as the paper's


class _Features(nn.Sequential):
    """The backbone's layers, run in the memory layout ``layout`` (set by the detector)."""

    layout = torch.contiguous_format

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.contiguous(memory_format=self.layout))


class TwoStageDetector(nn.Module):
    # torchvision's detectors handle the images of a batch one by one, in Python: an exported
    # graph holds the batch size it was traced with, so it is exported for one image at a time.
    exports_one_image = True
    # Its rows are sorted by score: where two scores nearly tie, float noise may swap them, so
    # an export is held to the detections they lead to, not to the rows (stages/export.py).
    ranked = True

    def __init__(self, rcnn: FasterRCNN, classes: int, image_size: int, proposals: int):
        super().__init__()
        self.rcnn, self.classes, self.image_size = rcnn, classes, image_size
        self.candidates = proposals * classes

    def _images(self, x: Tensor) -> list[Tensor]:
        """The batch as torchvision takes it, a list of images. Its transform batches them anew
        in NCHW; the backbone is fed in the batch's own layout (channels-last ran it 1.8× faster
        on 2 CPU cores)."""
        channels_last = (
            x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        )
        self.rcnn.backbone.layout = torch.channels_last if channels_last else torch.contiguous_format
        return list(x.unbind(0))

    def forward(self, x: Tensor) -> Tensor:
        """Every proposal's box, score and class for each class (evaluation mode)."""
        rows = []
        for found in self.rcnn(self._images(x)):
            row = torch.cat(
                [
                    found["boxes"] / self.image_size,
                    found["scores"][:, None],
                    (found["labels"] - 1)[:, None].to(x.dtype),  # torchvision's class 0 is background
                ],
                dim=1,
            )
            # padded by concatenation and cut: a pad by (candidates − rows) would not export
            padding = row.new_full((self.candidates, row.shape[1]), PADDING)
            rows.append(torch.cat([row, padding])[: self.candidates])
        return torch.stack(rows)

    def losses(self, x: Tensor, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """Both stages' losses (objectness and box of the proposals; class and box of the
        detections) on images ``x`` and their ``targets`` (pixel corners, labels from 1)."""
        return self.rcnn(self._images(x), targets)

    @contextmanager
    def recording_proposals(self, top: int) -> Iterator[list[Tensor]]:
        """While open, each forward pass in evaluation mode adds each image's ``top`` best
        proposals (after the proposal network's NMS, in shares of the image side) to the list it
        yields, and detects from its own best ``proposals`` of them, as it does when closed: the
        proposal network's quality is measured in the pass that detects. They come from its own
        candidates before NMS (4·proposals, 200 by default): fewer than ``top`` where those are
        fewer, since more candidates would change the detections."""
        rpn = self.rcnn.rpn
        kept = rpn._post_nms_top_n
        own = kept["testing"]
        recorded: list[Tensor] = []

        def detect_from_own(module: nn.Module, _inputs: tuple, output: tuple) -> tuple | None:
            if module.training:  # training's proposals are left as they are
                return None
            boxes, losses = output
            recorded.extend(found[:top] / self.image_size for found in boxes)
            return [found[:own] for found in boxes], losses  # NMS keeps them best first

        rpn._post_nms_top_n = {**kept, "testing": max(top, own)}
        handle = rpn.register_forward_hook(detect_from_own)
        try:
            yield recorded
        finally:
            handle.remove()
            rpn._post_nms_top_n = kept

    @staticmethod
    @contextmanager
    def tracing() -> Iterator[None]:
        """torchvision's ``batched_nms`` returns early on no boxes, a branch on the data that
        ``torch.export`` cannot trace; while exporting, the same offsets-by-class NMS without it."""
        from torchvision.ops import boxes, nms

        def batched_nms(found: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
            largest = torch.cat([found.flatten(), found.new_zeros(1)]).max()
            return nms(found + (labels.to(found) * (largest + 1))[:, None], scores, iou_threshold)

        original = boxes.batched_nms
        boxes.batched_nms = batched_nms
        try:
            yield
        finally:
            boxes.batched_nms = original


def faster_rcnn(
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 16,
    stages: int = 3,
    anchor_sides: tuple[float, ...] = (0.12, 0.2, 0.3),
    aspect_ratios: tuple[float, ...] = (1.4,),
    feature_channels: int = 32,
    proposals: int = 50,
    sampled_proposals: int = 32,
    hidden: int = 256,
) -> TwoStageDetector:
    """``num_classes`` object classes. The anchors fit the built-in digits (areas of 12–31
    pixels squared at 96 pixels, height 1.42 times the width at the median); a scene holds
    at most six, so 50 proposals (100 while training) cover them at a tenth of torchvision's
    cost, and the second stage learns from ``sampled_proposals`` of them per image."""
    for key, values in (("anchor_sides", anchor_sides), ("aspect_ratios", aspect_ratios)):
        if not values or min(values) <= 0:
            raise ValueError(f"{key} must list at least one positive number (got {list(values)})")
    if min(feature_channels, proposals, sampled_proposals, hidden) < 1:
        raise ValueError("feature_channels, proposals, sampled_proposals and hidden must be at least 1")
    convolutions, channels = backbone(in_channels, image_size, width, stages)
    # a 1×1 convolution to ``features`` channels: RoI Align's backward pass, the bulk of a
    # CPU training step, costs in proportion to them
    features = _Features(*convolutions, nn.Conv2d(channels, feature_channels, 1), nn.ReLU(inplace=True))
    initialize(features, "he")
    features.out_channels = channels = feature_channels
    rcnn = FasterRCNN(
        features,
        num_classes=None,
        # the pipeline's images come normalised and at their size: no second normalisation
        min_size=image_size,
        max_size=image_size,
        image_mean=[0.0] * in_channels,
        image_std=[1.0] * in_channels,
        # padded to the backbone's stride, not torchvision's 32: RoI Align infers the feature
        # map's scale from the padded size, and 40-pixel images padded to 64 would crop wrongly
        size_divisible=1 << stages,
        rpn_anchor_generator=AnchorGenerator(
            sizes=(tuple(side * image_size for side in anchor_sides),), aspect_ratios=(tuple(aspect_ratios),)
        ),
        rpn_pre_nms_top_n_train=4 * proposals,
        rpn_post_nms_top_n_train=2 * proposals,
        rpn_pre_nms_top_n_test=4 * proposals,
        rpn_post_nms_top_n_test=proposals,
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=ROI_SIDE, sampling_ratio=2),
        box_head=TwoMLPHead(channels * ROI_SIDE * ROI_SIDE, hidden),
        box_predictor=FastRCNNPredictor(hidden, num_classes + 1),
        box_batch_size_per_image=sampled_proposals,
        # no threshold and no NMS inside: every candidate leaves the network (see the module's doc)
        box_score_thresh=0.0,
        box_nms_thresh=1.0,
        box_detections_per_img=proposals * num_classes,
    )
    return TwoStageDetector(rcnn, num_classes, image_size, proposals)
