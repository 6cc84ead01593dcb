"""stylize: params' ``style`` section -> reports/style/{gallery.png,metrics.json,losses.png}; and
``dlpipe stylize CONTENT STYLE -o OUT.png`` for one pair.

The gallery stylises every content of ``style.gallery.contents`` with every style of
``style.gallery.styles``. Each result is judged by a texture judge of another family than the
network it was optimised on (dlpipe/style/judge.py: log-Gabor Grams), against histogram matching
of the content to the style, a baseline that adds no texture. The stage's MLflow run holds the
settings, each pair's judged metrics and its loss curve (one point per evaluation of J(G)), the
gallery and the loss plot.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from dlpipe import disk, paths, tracking
from dlpipe.config import Params, StyleParams
from dlpipe.errors import ConfigError
from dlpipe.evaluation import plots
from dlpipe.style import extractors, images, judge
from dlpipe.style.transfer import StyleSettings, luminance_style, stylize

GALLERY, METRICS, LOSSES = "gallery.png", "metrics.json", "losses.png"
# The targets the defaults were calibrated to at 128 px (benchmarks/README.md, "Style transfer"):
# the judged style distance down by this much from the content's, so many points more than
# histogram matching's drop, and the result's luminance SSIM against the content at least this.
LEAST_DROP, LEAST_GAIN, LEAST_SSIM = 60.0, 15.0, 0.4
LEAST_LUMINANCE_DROP = 30.0  # preserve_colour: on luminance Grams, against the imitated luminance


def settings_of(style: StyleParams) -> StyleSettings:
    """params' ``style`` section as the transfer's settings; a layer the extractor lacks is a
    one-line error naming the key."""
    known = extractors.layer_names(style.extractor)
    default_content, default_style = extractors.DEFAULT_LAYERS[style.extractor]
    content_layer = style.content_layer or default_content
    style_layers = default_style if style.style_layers is None else style.style_layers
    for key, names in (("content_layer", [content_layer]), ("style_layers", list(style_layers))):
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"style.{key}: {style.extractor} has no layer {name!r} ({', '.join(known)})"
                )
    if not style_layers:
        raise ConfigError("style.style_layers: name at least one layer (or null for the extractor's)")
    fields = style.model_dump(exclude={"gallery", "content_layer", "style_layers"})
    return StyleSettings(content_layer=content_layer, style_layers=style_layers, **fields)


def judged(content: torch.Tensor, style: torch.Tensor, result: torch.Tensor, settings: StyleSettings) -> dict:
    """The judge's measures of one result, and whether it meets the calibration's targets: the
    colour judge's drop for plain transfer; for luminance-only transfer, the luminance judge's
    against the style's luminance matched to the content's, which is what that variant imitates."""
    found = judge.measure(content, style, result)
    if settings.preserve_colour:
        imitated = luminance_style(content, style).expand(-1, 3, -1, -1)
        found["luminance_drop_vs_imitated"] = judge.measure(content, imitated, result)[
            "luminance_drop_result"
        ]
        met = found["luminance_drop_vs_imitated"] >= LEAST_LUMINANCE_DROP
    else:
        met = (
            found["drop_result"] >= LEAST_DROP and found["drop_result"] - found["drop_matched"] >= LEAST_GAIN
        )
    return found | {"targets_met": bool(met and found["ssim_result"] >= LEAST_SSIM)}


def _picture(image: torch.Tensor) -> np.ndarray:
    return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def _losses_plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for pair, totals in curves.items():
        axis.plot(totals, label=pair, linewidth=1)
    axis.set_yscale("log")
    axis.set_xlabel("evaluation of J(G)")
    axis.set_ylabel("J(G)")
    axis.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    with disk.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def _log(params: Params, pairs: dict[str, dict], curves: dict[str, list[dict]], summary: dict) -> None:
    from mlflow.entities import Metric, Param

    client = tracking.client(params.tracking)
    run_id = tracking.create_run(
        params.tracking,
        run_name="style_gallery",
        tags={"family": "style", **tracking.source_tags("dvc repro stylize")},
        logged={"style": params.style.model_dump(exclude={"gallery"})},
    )
    now = int(time.time() * 1000)
    metrics = [Metric(f"summary.{k}", float(v), now, 0) for k, v in summary.items()]
    for pair, found in pairs.items():
        key = pair.replace("/", ".")
        metrics += [Metric(f"{key}.{k}", float(v), now, 0) for k, v in found.items()]
        metrics += [Metric(f"loss.{key}", row["total"], now, row["step"]) for row in curves[pair]]
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1,000 metrics a call
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    client.log_batch(run_id, params=[Param("gallery", str(params.style.gallery.model_dump()))])
    for file in (GALLERY, METRICS, LOSSES):
        client.log_artifact(run_id, str(paths.STYLE / file))
    client.set_terminated(run_id)


def run(params: Params) -> None:
    settings = settings_of(params.style)
    size, gallery = settings.image_size, params.style.gallery
    # every image first: a bad name fails before anything is written
    contents = {name: images.load(name, size) for name in gallery.contents}
    styles = {name: images.load(name, size) for name in gallery.styles}
    pairs, curves, table = {}, {}, []
    for content_name, content in contents.items():
        row = [_picture(content)]
        for style_name, style in styles.items():
            pair = f"{content_name}/{style_name}"
            start = time.perf_counter()
            result, history = stylize(content, style, settings)
            seconds = time.perf_counter() - start
            pairs[pair] = judged(content, style, result, settings) | {"seconds": round(seconds, 2)}
            curves[pair] = history
            row.append(_picture(result))
            print(
                f"stylize {pair}: style distance down {pairs[pair]['drop_result']:.1f}% "
                f"(histogram matching {pairs[pair]['drop_matched']:.1f}%), "
                f"SSIM {pairs[pair]['ssim_result']:.3f}, {seconds:.1f}s",
                flush=True,
            )
        table.append(row)
    found = list(pairs.values())
    summary = {
        "pairs": len(found),
        "pairs_meeting_targets": sum(p["targets_met"] for p in found),
        "mean_drop_result": round(float(np.mean([p["drop_result"] for p in found])), 2),
        "mean_drop_matched": round(float(np.mean([p["drop_matched"] for p in found])), 2),
        "mean_ssim_result": round(float(np.mean([p["ssim_result"] for p in found])), 4),
        "seconds_per_image": round(float(np.mean([p["seconds"] for p in found])), 2),
    }
    style_row = [np.full_like(table[0][0], 255)] + [_picture(style) for style in styles.values()]
    plots.picture_table(
        [style_row, *table],
        ["style", *contents],
        ["content", *styles],
        paths.STYLE / GALLERY,
        f"{settings.extractor}, {size} px, {settings.optimizer} x {settings.steps}"
        + (", content's colours kept" if settings.preserve_colour else ""),
    )
    _losses_plot(
        {pair: [row["total"] for row in history] for pair, history in curves.items()}, paths.STYLE / LOSSES
    )
    disk.write_json(paths.STYLE / METRICS, {"summary": summary, "pairs": pairs})
    _log(params, pairs, curves, summary)
    print(
        f"stylize: {summary['pairs_meeting_targets']} of {summary['pairs']} pairs meet the targets; "
        f"mean style distance down {summary['mean_drop_result']:.1f}% "
        f"(histogram matching {summary['mean_drop_matched']:.1f}%), "
        f"{summary['seconds_per_image']:.1f}s an image"
    )


def one(params: Params, content_name: str, style_name: str, out: Path) -> None:
    """``dlpipe stylize CONTENT STYLE -o OUT``: one image with params' settings, judged."""
    settings = settings_of(params.style)
    content, style = (
        images.load(content_name, settings.image_size),
        images.load(style_name, settings.image_size),
    )
    start = time.perf_counter()
    result, _ = stylize(content, style, settings)
    seconds = time.perf_counter() - start
    found = judged(content, style, result, settings)
    with disk.atomic_path(out) as tmp:
        images.save(result, tmp)
    print(
        f"{out}: style distance down {found['drop_result']:.1f}% (histogram matching "
        f"{found['drop_matched']:.1f}%), luminance SSIM {found['ssim_result']:.3f}, {seconds:.1f}s"
    )
