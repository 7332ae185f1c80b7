#!/usr/bin/env python3
"""torchvision's multi-crop throughput on an image folder, as the official SwAV training script
makes its views: PIL decode, then per view RandomResizedCrop, RandomHorizontalFlip, ColorJitter
(0.8, 0.8, 0.8, 0.2) with probability 0.8, RandomGrayscale(0.2), a PIL Gaussian blur (radius 0.1-2)
with probability 0.5, ToTensor and Normalize; 2 x 224 at scale 0.14-1 and 6 x 96 at 0.05-0.14. A
DataLoader with batches of 64 and the given number of worker processes (0: the main process, one
core), one warm-up batch not timed. The counterpart of build/bin/bench_stream.

    bench_torchvision_multicrop.py FOLDER [--workers N] [--images M]
"""
import argparse
import os
import random
import time

import torch
from PIL import Image, ImageFilter
from torch.utils.data import DataLoader, Dataset
import torchvision.transforms as T


class RandomBlur:
    """The official SwAV blur: PIL's GaussianBlur, radius uniform in [0.1, 2], with probability p."""

    def __init__(self, p=0.5, low=0.1, high=2.0):
        self.p, self.low, self.high = p, low, high

    def __call__(self, image):
        if random.random() > self.p:
            return image
        return image.filter(ImageFilter.GaussianBlur(radius=random.uniform(self.low, self.high)))


def view(size, low, high):
    return T.Compose([
        T.RandomResizedCrop(size, scale=(low, high)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        T.RandomGrayscale(p=0.2),
        RandomBlur(),
        T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.228, 0.224, 0.225]),
    ])


class MultiCropFolder(Dataset):
    def __init__(self, folder, count):
        files = []
        for cls in sorted(os.listdir(folder)):
            d = os.path.join(folder, cls)
            if os.path.isdir(d):
                files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                          if f.lower().endswith((".jpg", ".jpeg", ".png"))]
        self.files = [files[i % len(files)] for i in range(count)]
        self.views = [view(224, 0.14, 1.0)] * 2 + [view(96, 0.05, 0.14)] * 6

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as image:
            image = image.convert("RGB")
        return [v(image) for v in self.views]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--images", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch = 64
    data = MultiCropFolder(args.folder, args.images + batch)
    loader = DataLoader(data, batch_size=batch, num_workers=args.workers, shuffle=False,
                        persistent_workers=False)
    it = iter(loader)
    next(it)  # warm-up: workers started, first files read
    start = time.perf_counter()
    done = 0
    for views in it:
        done += views[0].shape[0]
    seconds = time.perf_counter() - start
    print(f"torchvision: {done} images of {args.folder}, {args.workers} worker(s): "
          f"{done / seconds:.1f} images/s, {done * 8 / seconds:.0f} views/s")


if __name__ == "__main__":
    main()
