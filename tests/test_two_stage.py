"""The two-stage detector (models/faster_rcnn.py, tasks/detect/two_stage.py): its rows, its
losses, its proposal recall and its export."""

from __future__ import annotations

import pytest
import torch

from dlpipe.models.faster_rcnn import PADDING, TwoStageDetector
from dlpipe.models.registry import build_model
from dlpipe.tasks.detect import two_stage
from dlpipe.tasks.detect.detectors import detections

CLASSES = 10


def small(proposals: int = 8) -> TwoStageDetector:
    torch.manual_seed(0)
    options = {"width": 4, "feature_channels": 8, "proposals": proposals, "hidden": 16}
    return build_model("faster_rcnn", 3, CLASSES, 48, options)


def targets() -> torch.Tensor:
    """Two scenes: two digits, then one (class, cx, cy, w, h; −1 pads)."""
    found = torch.full((2, 3, 5), -1.0)
    found[0, 0] = torch.tensor([3.0, 0.3, 0.3, 0.2, 0.3])
    found[0, 1] = torch.tensor([7.0, 0.7, 0.6, 0.25, 0.35])
    found[1, 0] = torch.tensor([0.0, 0.5, 0.5, 0.3, 0.4])
    return found


def test_no_weights_are_downloaded_to_build_it(monkeypatch: pytest.MonkeyPatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    import torchvision.models._api

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", refuse)
    assert sum(p.numel() for p in small().parameters()) > 0


def test_its_rows_are_every_proposals_box_per_class_best_first_then_padding():
    model = small(proposals=8).eval()
    with torch.no_grad():
        rows = model(torch.randn(2, 3, 48, 48))
    assert rows.shape == (2, 8 * CLASSES, 6)
    for image in rows:
        real = image[image[:, 4] != PADDING]
        assert len(real) > 0 and (image[len(real) :] == PADDING).all()  # padding last, all −1
        assert (real[:-1, 4] >= real[1:, 4]).all()  # best first
        assert ((real[:, :4] >= 0) & (real[:, :4] <= 1)).all()  # corners, shares of the image side
        assert set(real[:, 5].long().tolist()) <= set(range(CLASSES))  # torchvision's background gone
    # a score threshold of 0 keeps every real row and no padding
    kept = detections("faster_rcnn", rows, CLASSES, score_threshold=0.0, iou_threshold=1.0)
    assert [len(boxes) for boxes, _, _ in kept] == [min(100, int((image[:, 4] >= 0).sum())) for image in rows]


def test_targets_become_torchvisions_pixel_corners_with_labels_from_one():
    converted = two_stage.torchvision_targets(targets(), image_size=48)
    pixels = torch.tensor([[9.6, 7.2, 19.2, 21.6], [27.6, 20.4, 39.6, 37.2]])
    assert torch.allclose(converted[0]["boxes"], pixels)
    assert converted[0]["labels"].tolist() == [4, 8]
    assert converted[1]["labels"].tolist() == [1]


def test_a_training_step_lowers_the_loss_of_its_batch():
    model = small().train()
    x = torch.randn(2, 3, 48, 48)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        torch.manual_seed(1)  # the same sampled anchors and proposals each time
        loss = two_stage.loss(model, x, targets())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_the_validation_loss_changes_neither_the_network_nor_the_random_state():
    model = small().eval()
    x = torch.randn(2, 3, 48, 48)
    statistics = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    with torch.inference_mode():
        first = two_stage.held_loss(model, x, targets())
        second = two_stage.held_loss(model, x, targets())
    assert float(first) == float(second) > 0  # the sampling is seeded
    assert not model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in statistics.items())  # batch norm too
    assert torch.equal(torch.random.get_rng_state(), state)


def test_proposal_recall_counts_the_true_boxes_a_proposal_covers_at_half_iou():
    covering = [
        # scene 0: the first digit's box exactly, then the second's left 42% (IoU 0.42: missed)
        torch.tensor([[0.2, 0.15, 0.4, 0.45], [0.575, 0.425, 0.68, 0.775]]),
        torch.zeros(0, 4),  # scene 1: no proposal
    ]
    assert two_stage.proposal_recall(covering, targets()) == pytest.approx(1 / 3)


def test_recording_proposals_keeps_the_number_asked_and_detects_as_without():
    model = small(proposals=8).eval()
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        plain = model(x)
        with model.recording_proposals(top=20) as found:
            recorded = model(x)
    assert torch.equal(recorded, plain)  # the second stage still sees its own 8 best
    assert [len(boxes) for boxes in found] == [20, 20]  # not the network's own 8
    assert all(((boxes >= 0) & (boxes <= 1)).all() for boxes in found)
    assert model.rcnn.rpn._post_nms_top_n["testing"] == 8  # put back
    assert not model.rcnn.rpn._forward_hooks
    with torch.no_grad():
        assert torch.equal(model(x), plain)


def test_it_exports_for_one_image_with_the_same_rows():
    from torchvision.ops import boxes

    model = small().eval()
    x = torch.randn(1, 3, 48, 48)
    original = boxes.batched_nms
    with model.tracing():
        program = torch.export.export(model, (x,))
    assert boxes.batched_nms is original
    with torch.no_grad():
        assert torch.allclose(program.module()(x), model(x), atol=1e-5)


def test_the_second_stage_crops_at_the_backbones_stride_whatever_the_image_size():
    # 40 pixels, three poolings: stride 8. Padded to torchvision's 32 (64 pixels), RoI Align
    # would infer a scale of 1/4 from the padded size and crop the wrong regions.
    options = {"width": 4, "feature_channels": 8, "proposals": 8, "hidden": 16}
    model = build_model("faster_rcnn", 3, CLASSES, 40, options).eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 40, 40))
    assert model.rcnn.roi_heads.box_roi_pool.scales == [0.125]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"anchor_sides": []}, r"anchor_sides must list at least one positive number \(got \[\]\)"),
        ({"aspect_ratios": [1.0, -2.0]}, r"aspect_ratios must list at least one positive number"),
        ({"proposals": 0}, "feature_channels, proposals, sampled_proposals and hidden must be at least 1"),
    ],
)
def test_options_it_cannot_build_with_are_named(options: dict, message: str):
    with pytest.raises(ValueError, match=message):
        build_model("faster_rcnn", 3, CLASSES, 48, options)


def test_its_backbone_runs_in_the_layout_of_the_batch():
    model = small().eval()
    x = torch.randn(2, 3, 48, 48)
    seen = []
    model.rcnn.backbone[0].register_forward_pre_hook(
        lambda _module, inputs: seen.append(inputs[0].is_contiguous(memory_format=torch.channels_last))
    )
    with torch.no_grad():
        plain = model(x)
        last = model(x.contiguous(memory_format=torch.channels_last))
    assert seen == [False, True]  # torchvision's transform alone batches NCHW
    assert torch.allclose(last, plain, atol=1e-5)


def test_recording_proposals_leaves_a_training_pass_alone():
    model = small(proposals=8).train()
    torch.manual_seed(0)
    plain = two_stage.loss(model, torch.randn(2, 3, 48, 48), targets())
    torch.manual_seed(0)
    with model.recording_proposals(top=20) as found:
        recorded = two_stage.loss(model, torch.randn(2, 3, 48, 48), targets())
    assert found == []
    assert float(recorded) == float(plain)
