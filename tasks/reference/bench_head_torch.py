"""PyTorch counterpart of `deno task bench head`: the same head step (SphereFace2-C, ArcFace or CosFace), timed
the same way. The JSON names the BLAS and threads PyTorch ran with (torch_env.describe).

Written from the formulas in shared/notes/opensphere.md (not OpenSphere's code): W normalised in place outside
autograd, x normalised in the graph, s = g(c) -/+ m applied as a detached shift (OpenSphere v0/main), BCE with
weights lw*K/r * (lambda | 1-lambda), mean over B*K. Prints one JSON line.

ArcFace / CosFace (--loss arcface|cosface): OpenSphere's margin softmax, s 30, m 0.5 / 0.35, cos clipped to
[-1+1e-5, 1-1e-5] before acos, theta+m clipped to [1e-5, 3.14159], target logit replaced, cross-entropy mean over B.

Usage: /usr/bin/python3 tasks/reference/bench_head_torch.py --batch 256 --dim 512 --classes 10000 [--threads 2]
         [--loss sphereface2|arcface|cosface]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from torch_env import describe


def peak_rss_mb():
    """VmHWM of this process image. Not getrusage's ru_maxrss: Linux carries that over exec from the parent, so
    under `bench head --torch` it would report the Deno process's peak instead of PyTorch's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loss", default="sphereface2", choices=["sphereface2", "arcface", "cosface"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lam, r, m, t, lw = 0.7, 40.0, 0.4, 3.0, 10.0
    w = torch.nn.Parameter(torch.randn(a.dim, a.classes) * (2.0 / (a.dim + a.classes)) ** 0.5)
    b = torch.nn.Parameter(torch.zeros(1))
    x = torch.randn(a.batch, a.dim, requires_grad=True)
    y = torch.randint(0, a.classes, (a.batch,))

    def margin_step():
        with torch.no_grad():
            w.data = F.normalize(w.data, dim=0)
        cos = F.normalize(x, dim=1).mm(w)
        cy = cos.gather(1, y.view(-1, 1))
        if a.loss == "arcface":
            theta = torch.acos(cy.clamp(-1 + 1e-5, 1 - 1e-5))
            target = torch.cos((theta + 0.5).clamp(1e-5, 3.14159))
            s = 30.0
        else:
            target = cy - 0.35
            s = 30.0
        logits = s * cos.scatter(1, y.view(-1, 1), target)
        loss = F.cross_entropy(logits, y)
        for p in (w, x):
            p.grad = None
        loss.backward()
        return loss.item()

    def step():
        if a.loss != "sphereface2":
            return margin_step()
        with torch.no_grad():
            w.data = F.normalize(w.data, dim=0)
        cos = F.normalize(x, dim=1).mm(w)
        one_hot = torch.zeros_like(cos).scatter_(1, y.view(-1, 1), 1.0)
        with torch.no_grad():
            g = 2.0 * ((cos + 1.0) / 2.0).pow(t) - 1.0
            d = g - m * (2.0 * one_hot - 1.0) - cos
        logits = r * (cos + d) + b
        weight = lam * one_hot + (1.0 - lam) * (1.0 - one_hot)
        loss = F.binary_cross_entropy_with_logits(logits, one_hot, weight=weight) * lw * a.classes / r
        for p in (w, b, x):
            p.grad = None
        loss.backward()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        **describe(), "impl": "pytorch", "loss": a.loss,
        "batch": a.batch, "dim": a.dim, "classes": a.classes,
        "stepSeconds": med, "minStepSeconds": min(times), "imagesPerSecond": a.batch / med,
        "peakRssMB": peak_rss_mb(),
    }))


if __name__ == "__main__":
    main()
