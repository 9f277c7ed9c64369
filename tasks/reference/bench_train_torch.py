"""PyTorch counterpart of `deno task bench train`: the same full training step, timed the same way.

Written from the spec in shared/notes/opensphere.md sections 2-3 (not OpenSphere's code). Backbone: SFNet
(OpenSphere's SFNet_deprecated topology): four stages, each a 3x3 stride-2 conv + ReLU followed by n blocks
x + ReLU(conv(ReLU(conv x))) (n = [1,2,4,1] for SFNet-20), 3x3 convs with bias, no BN; flatten, Linear(-> 512).
Head: SphereFace2-C (lambda .7, r 40, m .4, t 3, lw 10) as in bench_head_torch.py: W normalised in place outside
autograd, x normalised in the graph, g(c) -/+ m applied as a detached shift, weighted BCE * lw*K/r.
Optimiser: torch.optim.SGD(lr, momentum .9, weight_decay 5e-4) over backbone and head. Random data made once.
Prints one JSON line (last line of stdout).

Usage: /usr/bin/python3 tasks/reference/bench_train_torch.py --depth 20 --width 0.25 --size 56 --batch 64 \
         --classes 1000 [--threads 2] [--warmup 3] [--steps 20]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_env import describe

BLOCKS = {4: [0, 0, 0, 0], 10: [0, 1, 2, 0], 20: [1, 2, 4, 1], 36: [2, 4, 8, 2], 64: [3, 8, 16, 3]}


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return x + F.relu(self.conv2(F.relu(self.conv1(x))))


class SFNet(nn.Module):
    def __init__(self, depth, width, size, dim=512):
        super().__init__()
        layers, cin, side = [], 3, size
        for s, n in enumerate(BLOCKS[depth]):
            c = max(1, round([64, 128, 256, 512][s] * width))
            layers += [nn.Conv2d(cin, c, 3, 2, 1), nn.ReLU()] + [Block(c) for _ in range(n)]
            cin, side = c, (side - 1) // 2 + 1
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * side * side, dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(x), 1))


class SphereFace2C(nn.Module):
    def __init__(self, dim, classes, lam=0.7, r=40.0, m=0.4, t=3.0, lw=10.0):
        super().__init__()
        self.lam, self.r, self.m, self.t, self.lw = lam, r, m, t, lw
        self.w = nn.Parameter(torch.randn(dim, classes) * (2.0 / (dim + classes)) ** 0.5)
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x, y):
        with torch.no_grad():
            self.w.data = F.normalize(self.w.data, dim=0)
        cos = F.normalize(x, dim=1).mm(self.w)
        one_hot = torch.zeros_like(cos).scatter_(1, y.view(-1, 1), 1.0)
        with torch.no_grad():
            g = 2.0 * ((cos + 1.0) / 2.0).pow(self.t) - 1.0
            d = g - self.m * (2.0 * one_hot - 1.0) - cos
        logits = self.r * (cos + d) + self.b
        weight = self.lam * one_hot + (1.0 - self.lam) * (1.0 - one_hot)
        k = cos.shape[1]
        return F.binary_cross_entropy_with_logits(logits, one_hot, weight=weight) * self.lw * k / self.r


def peak_rss_mb():
    """VmHWM of this process image. Not getrusage's ru_maxrss: Linux carries that over exec from the parent, so
    under `bench train --torch` it reported the Deno process's peak instead of PyTorch's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--mode", default="train", choices=["train", "embed"],
                    help="embed: eval-mode forward of x and its horizontal flip, summed and L2-normalised, no grad")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    net = SFNet(a.depth, a.width, a.size).to(dev)
    head = SphereFace2C(512, a.classes).to(dev)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def embed_step():
        net.eval()
        with torch.no_grad():
            e = net(x) + net(torch.flip(x, dims=[3]))
            return F.normalize(e, dim=1)[0, 0].item()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = head(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # .item() synchronises (CUDA) and matches the kit's read-back of the loss

    step = embed_step if a.mode == "embed" else train_step

    last = float("nan")
    for _ in range(a.warmup):
        last = step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        last = step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        **describe(), "impl": "pytorch", "mode": a.mode, "device": a.device,
        "model": f"sfnet{a.depth}", "width": a.width, "size": a.size, "batch": a.batch, "classes": a.classes,
        "params": sum(p.numel() for p in params), "steps": a.steps,
        "stepSeconds": med, "minStepSeconds": min(times), "imagesPerSecond": a.batch / med,
        "peakRssMB": peak_rss_mb(), "lastLoss": last,
    }))


if __name__ == "__main__":
    main()
