"""Style transfer: which feature network, judged by a Gabor texture judge it was not optimised on.

For each extractor (random_multiscale, random_vgg19, and vgg19 if its weights are in the local
torch cache) and each content/style pair, the default StyleSettings at ``--size`` px, plain and
colour-preserving. Columns: the judge's style-distance drop (%) of the result from the content,
of histogram matching (the baseline that adds no texture), luminance SSIM against the content,
seconds. Plain rows use the colour judge; colour-preserving rows the luminance judge, against the
style and against the style's luminance matched to the content's (what the transfer imitates).
Then seconds per ``--timing-size`` image for the default. Prints a table, writes
benchmarks/results/style_transfer.json and a grid of the results, style_extractors.png.

    .venv/bin/python benchmarks/style_transfer.py [--size 128] [--steps 60] [--pairs coffee/grass ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from throughput import report

from dlpipe.stages.stylize import judged
from dlpipe.style import extractors, images, judge
from dlpipe.style.transfer import StyleSettings, stylize

RESULTS = Path(__file__).parent / "results" / "style_transfer.json"
GRID = Path(__file__).parent / "results" / "style_extractors.png"
PAIRS = ["coffee/grass", "chelsea/brick", "astronaut/gravel", "china/flower"]


def run(extractor: str, pair: str, preserve: bool, args: argparse.Namespace) -> tuple[dict, torch.Tensor]:
    content_name, style_name = pair.split("/")
    content, style = images.load(content_name, args.size), images.load(style_name, args.size)
    overrides = {"image_size": args.size, "preserve_colour": preserve}
    settings = StyleSettings.for_extractor(
        extractor, **overrides | ({"steps": args.steps} if args.steps else {})
    )
    start = time.perf_counter()
    result, _ = stylize(content, style, settings)
    seconds = time.perf_counter() - start
    found = judged(content, style, result, settings)  # the stylize stage's measures and targets
    prefix = "luminance_" if preserve else ""
    row = {
        "extractor": extractor,
        "pair": pair,
        "variant": "colour" if preserve else "plain",
        "drop": found[f"{prefix}drop_result"],
        "drop_matched": found[f"{prefix}drop_matched"],
        "ssim": found["ssim_result"],
        "ssim_matched": found["ssim_matched"],
        "seconds": round(seconds, 1),
        "drop_vs_luminance_style": found.get("luminance_drop_vs_imitated", ""),
    }
    return row | {"met": found["targets_met"], "judge": found}, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=0, help="L-BFGS iterations (0: the default)")
    parser.add_argument("--pairs", nargs="+", default=PAIRS, help="content/style names")
    parser.add_argument("--extractors", nargs="+", default=["random_multiscale", "random_vgg19", "vgg19"])
    parser.add_argument("--timing-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = [name for name in args.extractors if name != "vgg19" or extractors.vgg19_cache_path().is_file()]
    rows, tiles = [], {}
    for pair in args.pairs:
        content_name, style_name = pair.split("/")
        content, style = images.load(content_name, args.size), images.load(style_name, args.size)
        tiles[pair] = [content, style, judge.histogram_matched(content, style)]
        for extractor in chosen:
            for preserve in (False, True):
                row, result = run(extractor, pair, preserve, args)
                rows.append(row)
                tiles[pair].append(result)
    images.save(torch.cat([torch.cat(row, dim=3) for row in tiles.values()], dim=2), GRID)
    content, style = images.load("coffee", args.timing_size), images.load("grass", args.timing_size)
    start = time.perf_counter()
    stylize(content, style, StyleSettings(image_size=args.timing_size))
    rows.append(
        {"extractor": "random_multiscale", "pair": "coffee/grass", "variant": f"timing {args.timing_size} px"}
    )
    rows[-1]["seconds"] = round(time.perf_counter() - start, 1)
    columns = ["extractor", "pair", "variant", "drop", "drop_matched", "ssim", "drop_vs_luminance_style"]
    for row in rows:
        row |= {column: row.get(column, "") for column in [*columns, "met"]}
    report(rows, [*columns, "seconds", "met"], RESULTS)
    print(f"grid: {GRID} (rows: pairs; content, style, histogram-matched, per extractor plain, colour)")


if __name__ == "__main__":
    main()
