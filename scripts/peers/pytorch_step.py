#!/usr/bin/env python3
"""PyTorch peer for sam4j's step benchmark: ms per ERM training step of the same models.

Same architectures as sam4j's `mlp` (784-512-512-10) and `cnn` (conv32-bn-relu-pool,
conv64-bn-relu-pool, fc128, fc10), same batch, SGD with momentum 0.9 and weight decay 5e-4,
random inputs of Fashion-MNIST's shape. Prints one JSON object per model on stdout.

    python3 scripts/peers/pytorch_step.py --models mlp,cnn --batch-size 128 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


def make_model(name, classes=10):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, classes))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, classes))
    raise SystemExit(f"unknown model {name}")


def bench(name, batch, warmup, steps):
    torch.manual_seed(0)
    model = make_model(name)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt * 1e3)
    times.sort()
    return {"impl": "pytorch", "model": name, "batch": batch, "steps": steps,
            "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
            "params": sum(p.numel() for p in model.parameters()),
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for m in a.models.split(","):
        print(json.dumps(bench(m, a.batch_size, a.warmup, a.steps)), flush=True)


if __name__ == "__main__":
    main()
