#!/usr/bin/env python3
"""An independent PyTorch implementation of SwAV's training step, for comparison with the C++ one.

Written from the algorithm as the paper and its official training script define it (Caron et al.,
2020; docs/ALGORITHMS.md), not from the C++ code: the prototypes renormalised before each step,
the crops of one resolution through the backbone together, the swapped prediction of
Sinkhorn-Knopp codes computed in float32 with `exp(scores / epsilon)` (no max subtracted), the
queue of past embeddings (used once its last row is filled, refilled before the codes are made),
prototypes' gradients dropped while frozen, LARC (trust coefficient, weight decay folded into the
gradient, parameters with a zero weight or gradient left alone) around SGD with momentum, and the
learning rate per iteration from a linear warm-up (numpy's linspace) and a cosine. The network is
rebuilt here with the C++ module names, so the two exchange state dicts directly.

    swav_reference_step.py CASE_DIR

reads CASE_DIR/case.json (the settings) and CASE_DIR/inputs.pt (a dict: "init/<name>" for every
parameter and buffer, "batch/<step>/<crop>" for every view), runs the steps and writes
CASE_DIR/outputs.pt: "loss" (float64 [steps]) and "final/<name>" for every parameter and buffer.
"""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from case_io import read_case, write_outputs


def conv(cin, cout, k, stride):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class ConvNet(nn.Module):
    """Three stages of two 3x3 conv-BN-ReLU, 2x2 max-pool between stages, widths 32/64/128 x w."""

    def __init__(self, width, cin):
        super().__init__()
        layers = []
        for stage in range(3):
            cout = max(1, round((32 << stage) * width))
            if stage > 0:
                layers.append(nn.MaxPool2d(2, 2))
            for i in range(2):
                layers += [conv(cin if i == 0 else cout, cout, 3, 1), nn.BatchNorm2d(cout),
                           nn.ReLU(inplace=True)]
            cin = cout
        self.net = nn.Sequential(*layers)
        self.dim = cin

    def forward(self, x):
        return self.net(x).mean((2, 3))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.body = nn.Sequential(conv(cin, planes, 3, stride), nn.BatchNorm2d(planes),
                                  nn.ReLU(inplace=True), conv(planes, planes, 3, 1),
                                  nn.BatchNorm2d(planes))
        self.shortcut = None
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(conv(cin, planes, 1, stride), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.body(x) + identity)


class ResNet18(nn.Module):
    def __init__(self, width, cin, stem):
        super().__init__()
        base = max(1, round(64 * width))
        if stem == "cifar":
            self.stem = nn.Sequential(conv(cin, base, 3, 1), nn.BatchNorm2d(base),
                                      nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(conv(cin, base, 7, 2), nn.BatchNorm2d(base),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        cin = base
        for stage in range(4):
            planes = base << stage
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(cin, planes, 2 if (b == 0 and stage > 0) else 1))
                cin = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.dim = cin

    def forward(self, x):
        x = self.stem(x)
        for stage in range(4):
            x = getattr(self, f"layer{stage + 1}")(x)
        return x.mean((2, 3))


class Head(nn.Module):
    def __init__(self, cin, hidden, out):
        super().__init__()
        if hidden > 0:
            self.net = nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden),
                                     nn.ReLU(inplace=True), nn.Linear(hidden, out))
        else:
            self.net = nn.Sequential(nn.Linear(cin, out))

    def forward(self, x):
        return self.net(x)


class Prototypes(nn.Module):
    def __init__(self, dim, counts):
        super().__init__()
        for h, k in enumerate(counts):
            setattr(self, f"head{h}", nn.Linear(dim, k, bias=False))
        self.count = len(counts)

    def weights(self):
        return [getattr(self, f"head{h}").weight for h in range(self.count)]


class SwavNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c["arch"] == "convnet":
            self.backbone = ConvNet(c["width"], c["in_channels"])
        elif c["arch"] == "resnet18":
            self.backbone = ResNet18(c["width"], c["in_channels"], c["stem"])
        else:
            raise SystemExit(f"unsupported arch {c['arch']}")
        self.head = Head(self.backbone.dim, c["hidden_dim"], c["output_dim"])
        self.prototypes = Prototypes(c["output_dim"], c["prototypes"])

    def forward(self, crops):
        # Consecutive crops of one resolution go through the backbone together.
        features, start = [], 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-1] == crops[start].shape[-1]:
                end += 1
            features.append(self.backbone(torch.cat(crops[start:end])))
            start = end
        z = F.normalize(self.head(torch.cat(features)), dim=1, p=2)
        return z, [z @ w.t() for w in self.prototypes.weights()]


@torch.no_grad()
def sinkhorn(out, epsilon, iterations):
    q = torch.exp(out.float() / epsilon).t()  # [K, B]
    b, k = q.shape[1], q.shape[0]
    q /= q.sum()
    for _ in range(iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def lr_schedule(c):
    n = c["iters_per_epoch"]
    warm = n * c["warmup_epochs"]
    total = n * c["epochs"]
    lrs = []
    if warm > 0:  # numpy.linspace(start_warmup, base_lr, warm): both ends included
        step = (c["base_lr"] - c["start_warmup"]) / (warm - 1) if warm > 1 else 0.0
        lrs += [c["start_warmup"] + step * i for i in range(warm)]
    span = total - warm
    lrs += [c["final_lr"] + 0.5 * (c["base_lr"] - c["final_lr"]) * (1 + math.cos(math.pi * t / span))
            for t in range(span)]
    return lrs


def main():
    case = sys.argv[1]
    c, inputs = read_case(case)
    torch.set_num_threads(1)

    model = SwavNet(c)
    state = {k[len("init/"):]: v for k, v in inputs.items() if k.startswith("init/")}
    model.load_state_dict(state, strict=True)
    model.train()
    params = list(model.parameters())
    sgd = torch.optim.SGD(params, lr=c["base_lr"], momentum=c["momentum"], weight_decay=0.0)
    lrs = lr_schedule(c)

    B = c["batch_size"]
    assign = c["crops_for_assign"]
    queue = None
    queue_length = c["queue_length"] - c["queue_length"] % B
    losses = []
    for step in range(c["steps"]):
        epoch = step // c["iters_per_epoch"]
        if queue is None and c["queue_length"] > 0 and epoch >= c["epoch_queue_starts"] \
                and queue_length > 0:
            queue = torch.zeros(len(assign), queue_length, c["output_dim"])
        crops = []
        while f"batch/{step}/{len(crops)}" in inputs:
            crops.append(inputs[f"batch/{step}/{len(crops)}"])
        n_crops = len(crops)

        with torch.no_grad():
            for w in model.prototypes.weights():
                w.copy_(F.normalize(w, dim=1, p=2))
        z, scores = model(crops)
        total = 0
        # Whether the queue is full is decided once per step, from the previous steps.
        use_queue = queue is not None and bool((queue[:, -1, :] != 0).any())
        codes_per_head = []
        with torch.no_grad():
            for h, w in enumerate(model.prototypes.weights()):
                codes = []
                for i, crop in enumerate(assign):
                    out = scores[h][B * crop:B * (crop + 1)].detach()
                    if use_queue:
                        out = torch.cat((queue[i] @ w.t(), out))
                    codes.append(sinkhorn(out, c["epsilon"], c["sinkhorn_iterations"])[-B:])
                codes_per_head.append(codes)
            if queue is not None:
                for i, crop in enumerate(assign):
                    queue[i, B:] = queue[i, :-B].clone()
                    queue[i, :B] = z[B * crop:B * (crop + 1)]
        for h in range(len(scores)):
            head_loss = 0
            for i, crop in enumerate(assign):
                q = codes_per_head[h][i]
                sub = 0
                for v in range(n_crops):
                    if v == crop:
                        continue
                    x = scores[h][B * v:B * (v + 1)] / c["temperature"]
                    sub = sub - torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
                head_loss = head_loss + sub / (n_crops - 1)
            total = total + head_loss / len(assign)
        loss = total / len(scores)
        losses.append(loss.item())

        for g in sgd.param_groups:
            g["lr"] = lrs[step]
        sgd.zero_grad()
        loss.backward()
        if step < c["freeze_prototypes_niters"]:
            for w in model.prototypes.weights():
                w.grad = None
        with torch.no_grad():  # LARC
            wd = c["weight_decay"]
            for p in params:
                if p.grad is None:
                    continue
                pn, gn = p.norm(), p.grad.norm()
                if pn != 0 and gn != 0:
                    rate = c["larc_trust"] * pn / (gn + pn * wd + c["larc_eps"])
                    if c["larc_clip"]:
                        rate = min(rate / lrs[step], 1.0)
                    p.grad += wd * p
                    p.grad *= rate
        sgd.step()

    result = {"loss": torch.tensor(losses, dtype=torch.float64)}
    for name, t in model.state_dict().items():
        result["final/" + name] = t.detach().clone()
    write_outputs(case, result)


if __name__ == "__main__":
    main()
