"""Weights between this project and torchvision's ResNets (tests/run/test_export.cpp).

case.json: {"mode": "check" | "make", "arch": "resnet18" | "resnet50", "stem": "imagenet" | "cifar"}
check: weights.pt (written by export_weights) is loaded with plain torch.load into torchvision's
  model; writes result.json (missing and unexpected keys, tensors compared) and outputs.pt with
  the model's pooled features of inputs.pt's "x" (fc replaced by the identity after loading).
make: a seeded torchvision model with non-trivial batch-norm statistics, saved as a training
  checkpoint would be ({"state_dict": {"module." + name: tensor}, "epoch": 3}) to tv.pt;
  outputs.pt holds its features of "x".
"""
import json
import os
import sys

import torch
import torchvision

from case_io import read_case, write_outputs


def build(arch, stem):
    model = getattr(torchvision.models, arch)(weights=None)
    if stem == "cifar":
        # A CIFAR stem: 3x3 stride-1 first convolution, no max-pool.
        model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = torch.nn.Identity()
    return model


def main(case):
    settings, inputs = read_case(case)
    torch.manual_seed(5)
    model = build(settings["arch"], settings["stem"])
    if settings["mode"] == "check":
        state = torch.load(os.path.join(case, "weights.pt"))  # plain torch.load, weights_only
        result = model.load_state_dict(state, strict=False)
        own = model.state_dict()
        diff = max((own[k].double() - v.double()).abs().max().item() for k, v in state.items()
                   if k in own)
        with open(os.path.join(case, "result.json"), "w") as f:
            json.dump({"missing": list(result.missing_keys),
                       "unexpected": list(result.unexpected_keys),
                       "tensors": len(state), "max_tensor_diff": diff,
                       "type": type(state).__name__}, f)
    else:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
        checkpoint = {"state_dict": {"module." + k: v for k, v in model.state_dict().items()},
                      "epoch": 3, "arch": settings["arch"]}
        torch.save(checkpoint, os.path.join(case, "tv.pt"))
    model.fc = torch.nn.Identity()  # the pooled features
    model.eval()
    with torch.no_grad():
        features = model(inputs["x"])
    write_outputs(case, {"features": features})


if __name__ == "__main__":
    main(sys.argv[1])
