#!/usr/bin/env python3
"""Draws torchvision's RandomResizedCrop boxes, for comparison of their distribution with the C++
geometry (tests/data/test_stream_views.cpp).

    crop_geometry_reference.py CASE_DIR

reads CASE_DIR/case.json ({"draws", "sizes": [[height, width], ...], "scale": [lo, hi], "ratio":
[lo, hi]}) and writes CASE_DIR/outputs.pt ("boxes/<i>": int64 [draws, 4] of top, left, height,
width for sizes[i]), drawn with torch's generator seeded 0.
"""
import sys

import torch
from torchvision.transforms import RandomResizedCrop

from case_io import read_case, write_outputs


def main():
    case = sys.argv[1]
    c, _ = read_case(case)
    torch.manual_seed(0)
    out = {}
    for i, (height, width) in enumerate(c["sizes"]):
        image = torch.empty(1, height, width)
        boxes = [RandomResizedCrop.get_params(image, c["scale"], c["ratio"])
                 for _ in range(c["draws"])]
        out[f"boxes/{i}"] = torch.tensor(boxes, dtype=torch.int64)
    write_outputs(case, out)


if __name__ == "__main__":
    main()
