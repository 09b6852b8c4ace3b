#!/usr/bin/env python3
"""PyTorch peer of sam4j's GPU step benchmark: the project's comparison baseline.

ResNet-18 (CIFAR style, as sam4j's zoo builds it: 3x3 stem, no max-pool, BasicBlocks, 1x1+BN shortcuts,
global average pool, Linear) at batch 128 on synthetic 3x32x32 inputs, SGD with momentum 0.9 and weight
decay 5e-4, eager mode, torch.backends.cudnn.benchmark = True, TF32 as asked (off by default, as in
sam4j's benchmark). Methods, written the usual PyTorch way:
  erm        one forward/backward, optimizer step;
  sam        two passes; BatchNorm momentum zeroed for pass 2 so the running statistics move once per step;
  aesam      squared gradient norm read back with .item() each step, SAM when it is above
             mean + c_t * std of its running statistics (EMA, delta = 0.9, c_t from -1 to 1 over the run);
  looksam    SAM every k = 5 steps, otherwise the last SAM direction's orthogonal part reused (alpha = 0.7);
  aelooksam  the AE-SAM decision, LookSAM's reuse on the steps it skips.
Median ms/step over timed steps after warm-up (CUDA events around each step) and images/s; with
--sam4j FILE (sam4j's resnet18 benchmark JSON) it also prints the sam4j/PyTorch ratio per method.

  python3 pytorch_gpu_step.py [--steps 30] [--warmup 10] [--tf32] [--out FILE.json] [--sam4j FILE.json]
"""
import argparse
import json
import statistics
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # the GPU check goes on without the peer
    print(f"pytorch peer: skipped, PyTorch is not importable ({e})")
    sys.exit(0)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNet18(nn.Module):
    def __init__(self, classes=10, widths=(64, 128, 256, 512)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, cin = [], widths[0]
        for s, w in enumerate(widths):
            for b in range(2):
                layers.append(Block(cin, w, 2 if s > 0 and b == 0 else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def bn_momentum(model, m):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = m


def run(method, args, dev):
    torch.manual_seed(1)
    model = ResNet18().to(dev).train()
    params = [p for p in model.parameters()]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    rho, k, alpha = 0.05, 5, 0.7
    total = args.warmup + args.steps
    state = {"mu": None, "var": 0.0, "gv": None, "sam": 0}

    def grads():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    def sam_pass():
        g = [p.grad.detach().clone() for p in params]
        norm = torch.sqrt(sum((gi * gi).sum() for gi in g))
        scale = rho / (norm + 1e-12)
        eps = [gi * scale for gi in g]
        with torch.no_grad():
            for p, e in zip(params, eps):
                p.add_(e)
        bn_momentum(model, 0.0)
        grads()
        bn_momentum(model, 0.1)
        with torch.no_grad():
            for p, e in zip(params, eps):
                p.sub_(e)
        return g

    def looksam_store(g):
        # g_v: the part of the SAM gradient orthogonal to the plain gradient
        gs = [p.grad.detach() for p in params]
        gg = sum((a * a).sum() for a in g)
        dot = sum((a * b).sum() for a, b in zip(g, gs))
        state["gv"] = [b - (dot / gg) * a for a, b in zip(g, gs)]

    def looksam_reuse():
        if state["gv"] is None:
            return
        with torch.no_grad():
            gn = torch.sqrt(sum((p.grad * p.grad).sum() for p in params))
            vn = torch.sqrt(sum((v * v).sum() for v in state["gv"]))
            for p, v in zip(params, state["gv"]):
                p.grad.add_(alpha * gn / (vn + 1e-12) * v)

    def ae_decide(t):
        s = sum((p.grad * p.grad).sum() for p in params).item()  # the host read-back, as usual in PyTorch
        c = -1.0 + 2.0 * t / max(1, total - 1)
        if state["mu"] is None:
            state["mu"], state["var"] = s, 0.0
            return True
        d = 0.9
        decide = s >= state["mu"] + c * state["var"] ** 0.5
        diff = s - state["mu"]
        state["mu"] += (1 - d) * diff
        state["var"] = d * (state["var"] + (1 - d) * diff * diff)
        return decide

    def step(t):
        grads()
        if method == "erm":
            pass
        elif method == "sam":
            sam_pass()
            state["sam"] += 1
        elif method == "aesam":
            if ae_decide(t):
                sam_pass()
                state["sam"] += 1
        elif method in ("looksam", "aelooksam"):
            do = (t % k == 0) if method == "looksam" else ae_decide(t)
            if do:
                g = sam_pass()
                looksam_store(g)
                state["sam"] += 1
            else:
                looksam_reuse()
        opt.step()

    for t in range(args.warmup):
        step(t)
    torch.cuda.synchronize()
    state["sam"] = 0
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ms = []
    for t in range(args.warmup, total):
        start.record()
        step(t)
        stop.record()
        stop.synchronize()
        ms.append(start.elapsed_time(stop))
    # The mean, not the median: with a mixed policy most steps may be ERM steps and a median would hide the SAM steps.
    mean = statistics.fmean(ms)
    return {"ms": mean, "images_per_s": args.batch / mean * 1000, "sam_fraction": state["sam"] / args.steps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--sam4j")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("pytorch peer: skipped, torch.cuda.is_available() is False")
        return 0
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    dev = torch.device("cuda")
    print(f"pytorch peer: torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}, "
          f"TF32 {'on' if args.tf32 else 'off'}, resnet18 batch {args.batch}, 3x32x32, mean of {args.steps} after {args.warmup}")
    results = {}
    for m in ("erm", "sam", "aesam", "looksam", "aelooksam"):
        try:
            results[m] = run(m, args, dev)
            r = results[m]
            print(f"  pytorch {m:<10} {r['ms']:8.2f} ms/step {r['images_per_s']:9.0f} img/s  %SAM {r['sam_fraction']:.2f}")
        except Exception as e:
            print(f"  pytorch {m:<10} FAILED: {e}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    if args.sam4j:
        try:
            with open(args.sam4j) as f:
                ours = json.load(f)
        except Exception as e:
            print(f"pytorch peer: no sam4j results to compare ({e})")
            return 0
        print("sam4j / PyTorch, ms per step (below 1 is sam4j faster):")
        for m, r in results.items():
            v = ours.get(f"resnet18_{m}_ms")
            if isinstance(v, (int, float)) and v > 0:
                print(f"  {m:<10} sam4j {v:8.2f} ms  pytorch {r['ms']:8.2f} ms  ratio {v / r['ms']:.2f}"
                      f"  (%SAM sam4j {ours.get(f'resnet18_{m}_sam_fraction', '?')}, pytorch {r['sam_fraction']:.2f})")
            else:
                print(f"  {m:<10} sam4j n/a")
    return 0


if __name__ == "__main__":
    sys.exit(main())
