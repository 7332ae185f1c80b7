#!/usr/bin/env python3
"""Renders multi-crop views with torchvision's functional transforms, for comparison with the C++
multi-crop (tests/data/test_multicrop_torchvision.cpp).

Each view follows the official SwAV transform, on float tensors in [0, 1] (so no uint8 rounding
between operations): RandomResizedCrop's crop and bilinear antialiased resize -> horizontal flip ->
colour jitter (brightness, contrast, saturation, hue in the drawn order) -> grayscale (3 channels)
-> Gaussian blur (kernel 2 ceil(3 sigma) + 1, reflected borders) -> normalise. The random decisions
are the C++ side's (MultiCrop::plan), passed in case.json, so only the rendering is compared.

    multicrop_reference.py CASE_DIR

reads CASE_DIR/case.json ({"mean", "std", "views": [{"sample", "crop", "size", "box": [top, left,
height, width], "flip", "jitter", "order", "brightness", "contrast", "saturation", "hue",
"grayscale", "blur", "sigma"}]}) and CASE_DIR/inputs.pt ("image/<sample>": uint8 [H, W, 3]) and
writes CASE_DIR/outputs.pt ("view/<sample>/<crop>": float [3, size, size]).
"""
import math
import sys

import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from case_io import read_case, write_outputs


def render(image, v, mean, std):
    x = image.permute(2, 0, 1).float() / 255.0
    top, left, height, width = v["box"]
    x = TF.resized_crop(x, top, left, height, width, [v["size"], v["size"]],
                        interpolation=InterpolationMode.BILINEAR, antialias=True)
    if v["flip"]:
        x = TF.hflip(x)
    if v["jitter"]:
        for op in v["order"]:
            if op == 0:
                x = TF.adjust_brightness(x, v["brightness"])
            elif op == 1:
                x = TF.adjust_contrast(x, v["contrast"])
            elif op == 2:
                x = TF.adjust_saturation(x, v["saturation"])
            else:
                x = TF.adjust_hue(x, v["hue"])
    if v["grayscale"]:
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    if v["blur"]:
        radius = max(1, math.ceil(3.0 * v["sigma"]))
        x = TF.gaussian_blur(x, [2 * radius + 1, 2 * radius + 1], [v["sigma"], v["sigma"]])
    return TF.normalize(x, mean, std)


def main():
    case = sys.argv[1]
    c, inputs = read_case(case)
    out = {}
    for v in c["views"]:
        image = inputs[f"image/{v['sample']}"]
        out[f"view/{v['sample']}/{v['crop']}"] = render(image, v, c["mean"], c["std"]).contiguous()
    write_outputs(case, out)


if __name__ == "__main__":
    main()
