#!/usr/bin/env python3
"""PyTorch counterpart of dev.sam4j.bench.QuickBench: the same GEMM shapes (GFLOP/s, best of 8 timed
batches, torch.mm into a preallocated output) and the same two training steps (median ms), on N threads.

    python3 scripts/pytorch_quickbench.py [threads] [gemm|steps|all]

Weights use PyTorch's [out, in] layout, so the MLP forward is NT, its weight gradient TN and its input
gradient NN, as in the Java shapes. Run it interleaved with QuickBench on the same machine.
"""
import sys, time
import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
what = sys.argv[2] if len(sys.argv) > 2 else "all"
torch.set_num_threads(threads)

SHAPES = ["128x128x128", "512x512x512", "1024x1024x1024", "2048x2048x2048",
          "128x512x784:NT", "128x512x512:NT", "128x10x512:NT", "512x784x128:TN", "512x512x128:TN",
          "10x512x128:TN", "128x784x512:NN", "128x512x512:NN", "64x196x288:NN", "64x288x196:NT",
          "288x196x64:TN"]

def gemm(shape):
    dims, _, tr = shape.partition(":")
    m, n, k = map(int, dims.split("x"))
    ta, tb = (tr or "NN")[0] == "T", (tr or "NN")[1] == "T"
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    c = torch.empty(m, n)
    calls = max(3, int(2e9 / (2 * m * n * k)))
    for _ in range(3):
        torch.mm(a, b, out=c)
    best = float("inf")
    for _ in range(8):
        t = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=c)
        best = min(best, (time.perf_counter() - t) / calls)
    print(f"gemm {shape} {2 * m * n * k / best / 1e9:.1f} GFLOP/s", flush=True)

def step(name, model, x, y, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss = nn.CrossEntropyLoss()
    def one():
        opt.zero_grad(set_to_none=False)
        loss(model(x), y).backward()
        sum(p.grad.pow(2).sum() for p in model.parameters())  # the gradient norm the Java step computes
        opt.step()
    for _ in range(steps // 2):
        one()
    ts = []
    for _ in range(steps):
        t = time.perf_counter()
        one()
        ts.append(time.perf_counter() - t)
    ts.sort()
    print(f"step {name} {ts[steps // 2] * 1e3:.2f} ms (median; p10 {ts[steps // 10] * 1e3:.2f}, p90 {ts[steps * 9 // 10] * 1e3:.2f})", flush=True)

print(f"# torch {torch.__version__}, {threads} threads")
if what != "steps":
    for s in SHAPES:
        gemm(s)
if what != "gemm":
    batch = 128
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    step("mlp", mlp, torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,)), 300)
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    step("cnn", cnn, torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,)), 40)
