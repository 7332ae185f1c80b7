#!/usr/bin/env python3
"""Writes an image folder of ImageNet-like JPEGs cut from real photographs.

    make_photo_folder.py OUT [--per-class N] [--val-per-class M] [--seed S]

Each class is one photograph of Debian's `mate-backgrounds` package (the nature set and the
5640 x 3172 elephants). Each image is a window of the photo, of random area (2% to 60% of the photo)
and aspect ratio (3:4 to 16:9, one in four portrait), resized with Lanczos so its longer side is 400
to 500 pixels (ImageNet's median image is 500 x 375), and saved as a JPEG of quality 85 to 95, as
photos are: 4:2:0 chroma, one in eight progressive, one in fifty grayscale, one in a hundred CMYK
(Adobe), one in a hundred a PNG. OUT/train/<class>/ and OUT/val/<class>/ are written. The same seed
gives the same files. Generated noise or upscaled small images do not decode like photos; these do.

Needs Pillow (the venv's torchvision brings it): run with that venv's python.
"""
import argparse
import math
import os
import random
import sys

from PIL import Image

SOURCES = "/usr/share/backgrounds/mate"


def photos():
    nature = os.path.join(SOURCES, "nature")
    if not os.path.isdir(nature):
        sys.exit(f"make_photo_folder.py: {nature} is missing: install Debian's mate-backgrounds "
                 "(ci/setup.sh does)")
    paths = sorted(os.path.join(nature, f) for f in os.listdir(nature) if f.endswith(".jpg"))
    elephants = os.path.join(SOURCES, "abstract", "Elephants_5640x3172.jpg")
    if os.path.exists(elephants):
        paths.append(elephants)
    return paths


def window(rng, photo):
    W, H = photo.size
    for _ in range(100):
        area = W * H * rng.uniform(0.02, 0.6)
        aspect = math.exp(rng.uniform(math.log(4 / 3), math.log(16 / 9)))
        if rng.random() < 0.25:
            aspect = 1 / aspect
        w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < w <= W and 0 < h <= H:
            left, top = rng.randint(0, W - w), rng.randint(0, H - h)
            return photo.crop((left, top, left + w, top + h))
    return photo


def write_image(rng, photo, path_stem):
    image = window(rng, photo)
    longer = rng.randint(400, 500)
    w, h = image.size
    scale = longer / max(w, h)
    image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    kind = rng.random()
    if kind < 0.01:
        image.save(path_stem + ".png")
        return
    if kind < 0.03:
        image = image.convert("L")
    elif kind < 0.04:
        image = image.convert("CMYK")
    image.save(path_stem + ".JPEG", quality=rng.randint(85, 95), subsampling="4:2:0",
               progressive=rng.random() < 0.125)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--per-class", type=int, default=100, help="training images per class")
    parser.add_argument("--val-per-class", type=int, default=20, help="validation images per class")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sources = photos()
    total = 0
    for label, source in enumerate(sources):
        name = os.path.splitext(os.path.basename(source))[0].split("_")[0].lower()
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
        for split, count in (("train", args.per_class), ("val", args.val_per_class)):
            folder = os.path.join(args.out, split, name)
            os.makedirs(folder, exist_ok=True)
            rng = random.Random(f"{args.seed}/{split}/{label}")
            for i in range(count):
                write_image(rng, photo, os.path.join(folder, f"{name}_{i:05d}"))
                total += 1
    print(f"make_photo_folder.py: {total} images of {len(sources)} classes in {args.out}")


if __name__ == "__main__":
    main()
