#!/usr/bin/env python3
"""Crops of image files as Pillow makes them, for comparison with the streaming decoder
(tests/data/test_stream_views.cpp): open, convert("RGB"), crop the box, resize to size x size with
Image.BILINEAR (Pillow's resize is antialiased: its bilinear filter widens when shrinking), as
torchvision's RandomResizedCrop does on a PIL image.

    pil_crop_reference.py CASE_DIR

reads CASE_DIR/case.json ({"crops": [{"file", "box": [top, left, height, width], "size"}]}) and
writes CASE_DIR/outputs.pt ("crop/<i>": uint8 [3, size, size]).
"""
import sys

import torch
from PIL import Image

from case_io import read_case, write_outputs


def main():
    case = sys.argv[1]
    c, _ = read_case(case)
    out = {}
    for i, crop in enumerate(c["crops"]):
        top, left, height, width = crop["box"]
        with Image.open(crop["file"]) as image:
            rgb = image.convert("RGB")
        view = rgb.crop((left, top, left + width, top + height)).resize(
            (crop["size"], crop["size"]), Image.BILINEAR)
        pixels = torch.frombuffer(bytearray(view.tobytes()), dtype=torch.uint8)
        out[f"crop/{i}"] = pixels.view(crop["size"], crop["size"], 3).permute(2, 0, 1).contiguous()
    write_outputs(case, out)


if __name__ == "__main__":
    main()
