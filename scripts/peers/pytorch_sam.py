#!/usr/bin/env python3
"""PyTorch peer of `sam4j bench`: the same training steps, written the usual PyTorch way, timed the same way.

Models (as sam4j's zoo builds them, see nn/models/Models.java):
  mlp, mlp:WIDTH  Flatten, Linear(in, W), ReLU, Linear(W, W), ReLU, Linear(W, classes); W = 512 for mlp
  cnn             two conv3x3(no bias)-BN-ReLU-maxpool2 blocks of 32 and 64 channels, Linear(., 128), ReLU, Linear
  resnet18        CIFAR ResNet-18: 3x3 stem, no max-pool, BasicBlocks, 1x1 conv + BN shortcuts, avg pool, Linear
  wrn-D-K         Wide ResNet, pre-activation blocks, no dropout (1x1 shortcut on the pre-activated input)
Methods, all on SGD (momentum 0.9, weight decay 5e-4, lr 0.01, PyTorch convention), sam4j's default
hyperparameters:
  erm         zero_grad, forward, backward, optimizer step
  sam         two passes (rho 0.05); BatchNorm momentum zeroed for pass 2 so running statistics move once
              per step; the weights restored from a saved copy before the optimizer step
  asam        SAM with T_w = |w| + eta (rho 0.5, eta 0.01): e = rho * T_w^2 g / ||T_w g||
  sssam       SAM with probability p = 0.5 (seeded Bernoulli), else ERM
  looksam     SAM every k = 5 steps, storing g_v = g_s - (<g, g_s>/||g||^2) g; other steps add
              alpha * ||g||/||g_v|| * g_v to the gradient (alpha 0.7); no reuse before the first SAM step
  aesam       ||g||^2 read back with .item() each step; SAM iff s >= mu + c_t * sigma after updating the EMA
              mean and variance of s (delta 0.9); c_t moves linearly from lambda2 = 1 to lambda1 = -1
  aelooksam   the AE-SAM decision, LookSAM's reuse on the steps it skips
Like sam4j's benchmark: one model and optimizer per method from the same seed, a rotation of four random
batches, and in every round one step of each method in turn (interleaved), so that a slow phase of a
shared machine hits every method alike. Prints one JSON object per model, batch and method on stdout
(median, p90 and mean ms per step, SAM fraction, images/s from the mean, time relative to ERM).

A peer is measured at its best: unless --config fixes one, each model first runs a short interleaved
trial of the configurations a PyTorch user would try -- zero_grad(set_to_none=True / False) and inputs
drawn from torch.randn or distributed like normalised Fashion-MNIST pixels (about half at the
background value, the rest uniform over the pixel range, then (x - 0.2860) / 0.3530) -- and times the
fastest; stderr and the JSON ("peer_config", "trial_ms") say which won. Intra-op threads are --threads,
inter-op threads 1 (one model at a time). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which force OpenBLAS
onto an older core's kernels, are removed from the environment before torch loads (--keep-openblas-env
keeps them).

  python3 pytorch_sam.py [--models mlp,cnn] [--optimizers erm,sam,...] [--batch-size 128 | --batch-sizes 32,64]
                         [--input 1,28,28] [--classes 10] [--warmup 20] [--steps 100] [--threads 2]
                         [--device cpu|cuda|auto] [--tf32] [--seed 42]
                         [--config auto | set_to_none=B,inputs=randn|data] [--keep-openblas-env]
"""
import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time

# Before torch (and so OpenBLAS) loads: a forced core type or L2 size would run OpenBLAS below its best on
# a CPU that supports more, so the peer re-executes itself without them (they are read at library load).
FORCED_OPENBLAS = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
if FORCED_OPENBLAS and "--keep-openblas-env" not in sys.argv:
    print(f"pytorch_sam: unsetting {', '.join(f'{k}={os.environ[k]}' for k in FORCED_OPENBLAS)} (OpenBLAS picks its "
          "kernels for this CPU; --keep-openblas-env keeps them)", file=sys.stderr)
    for k in FORCED_OPENBLAS:
        del os.environ[k]
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
import torch.nn as nn
import torch.nn.functional as F

METHODS = ("erm", "sam", "asam", "sssam", "looksam", "aesam", "aelooksam")
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
HYPER = {"rho": 0.05, "asam_rho": 0.5, "asam_eta": 0.01, "sssam_p": 0.5, "looksam_k": 5, "looksam_alpha": 0.7,
         "ae_delta": 0.9, "ae_lambda1": -1.0, "ae_lambda2": 1.0}
EPS = 1e-12
# A g_v shorter than this fraction of ||g_s|| is rounding noise and is not reused (as in sam4j).
NOISE_FLOOR = 1e-5


# ---- models -------------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, cin, classes, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, c = [], widths[0]
        for s, (w, n) in enumerate(zip(widths, blocks)):
            for b in range(n):
                layers.append(BasicBlock(c, w, 2 if s > 0 and b == 0 else 1))
                c = w
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(c, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout and stride == 1
        self.shortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        y = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return y + (x if self.equal else self.shortcut(o))


class WideResNet(nn.Module):
    def __init__(self, cin, classes, depth, k):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise SystemExit(f"pytorch_sam: Wide ResNet depth must be 6n + 4, got {depth}")
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        blocks, c = [], 16
        for w, stride in zip((16 * k, 32 * k, 64 * k), (1, 2, 2)):
            for b in range(n):
                blocks.append(PreActBlock(c, w, stride if b == 0 else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.bn1 = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.blocks(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make_model(name, shape, classes):
    c, h, w = shape
    key = name.strip().lower()
    m = re.fullmatch(r"mlp(?::(\d+))?", key)
    if m:
        width = int(m.group(1) or 512)
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                             nn.Linear(width, classes))
    if key == "cnn":
        return nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Linear(128, classes))
    if key == "resnet18":
        return ResNet(c, classes)
    m = re.fullmatch(r"wrn-(\d+)-(\d+)", key)
    if m:
        return WideResNet(c, classes, int(m.group(1)), int(m.group(2)))
    raise SystemExit(f"pytorch_sam: unknown model '{name}' (mlp, mlp:WIDTH, cnn, resnet18, wrn-D-K)")


# ---- the methods --------------------------------------------------------------------------------------------

class Trainee:
    """One model, its optimizer and the state of one method (the policy's and LookSAM's)."""

    def __init__(self, method, model_name, shape, classes, device, seed, set_to_none=True):
        if method not in METHODS:
            raise SystemExit(f"pytorch_sam: unknown optimizer '{method}' ({', '.join(METHODS)})")
        torch.manual_seed(seed)  # every method starts from the same weights
        self.method = method
        self.set_to_none = set_to_none
        self.model = make_model(model_name, shape, classes).to(device).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.bns = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.opt = torch.optim.SGD(self.params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.rng = random.Random(seed)
        self.mu, self.var, self.seen = 0.0, 0.0, 0
        self.gv, self.gv_norm = None, None

    def grads(self, x, y):
        self.opt.zero_grad(set_to_none=self.set_to_none)
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        return loss

    def sq_norm(self, tensors):
        return torch.stack([(t * t).sum() for t in tensors]).sum()

    def sam_pass(self, x, y, adaptive):
        """Perturb, second pass with BatchNorm's running statistics frozen, restore; leaves g_s in .grad."""
        g = [p.grad.detach().clone() for p in self.params]
        saved = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            if adaptive:
                tw = [p.abs().add_(HYPER["asam_eta"]) for p in self.params]
                scale = HYPER["asam_rho"] / (self.sq_norm([t * gi for t, gi in zip(tw, g)]).sqrt() + EPS)
                for p, t, gi in zip(self.params, tw, g):
                    p.add_(t * t * gi * scale)
            else:
                scale = HYPER["rho"] / (self.sq_norm(g).sqrt() + EPS)
                for p, gi in zip(self.params, g):
                    p.add_(gi * scale)
        momenta = [b.momentum for b in self.bns]
        for b in self.bns:
            b.momentum = 0.0
        self.grads(x, y)
        for b, m in zip(self.bns, momenta):
            b.momentum = m
        with torch.no_grad():
            for p, s in zip(self.params, saved):
                p.copy_(s)
        return g

    def store_direction(self, g):
        with torch.no_grad():
            gs = [p.grad for p in self.params]
            gg = self.sq_norm(g)
            coef = torch.where(gg > 0, torch.stack([(a * b).sum() for a, b in zip(g, gs)]).sum() / gg, torch.zeros_like(gg))
            self.gv = [b - coef * a for a, b in zip(g, gs)]
            vn = self.sq_norm(self.gv)
            # Device scalars, no host read-back: the floor zeroes the norm, which disables the reuse below.
            self.gv_norm = torch.where(vn <= NOISE_FLOOR ** 2 * self.sq_norm(gs), torch.zeros_like(vn), vn.sqrt())

    def reuse_direction(self):
        if self.gv is None:
            return
        with torch.no_grad():
            gn = self.sq_norm([p.grad for p in self.params]).sqrt()
            scale = torch.where(self.gv_norm > 0, HYPER["looksam_alpha"] * gn / self.gv_norm.clamp_min(EPS),
                                torch.zeros_like(gn))
            for p, v in zip(self.params, self.gv):
                p.grad.add_(v * scale)

    def ae_decide(self, t, total):
        s = self.sq_norm([p.grad for p in self.params]).item()  # the host decision, as PyTorch code does it
        d = HYPER["ae_delta"]
        if self.seen == 0:
            self.mu, self.var = s, 0.0
        else:
            self.mu = d * self.mu + (1 - d) * s
            diff = s - self.mu
            self.var = d * self.var + (1 - d) * diff * diff
        self.seen += 1
        f = t / total if total > 0 else 0.0
        c = HYPER["ae_lambda1"] * f + HYPER["ae_lambda2"] * (1 - f)
        return s >= self.mu + c * math.sqrt(self.var)

    def step(self, x, y, t, total):
        """One training step; returns whether it took the SAM path."""
        self.grads(x, y)
        m = self.method
        if m == "erm":
            sam = False
        elif m in ("sam", "asam"):
            sam = True
        elif m == "sssam":
            sam = self.rng.random() < HYPER["sssam_p"]
        elif m == "looksam":
            sam = t % HYPER["looksam_k"] == 0
        else:
            sam = self.ae_decide(t, total)
        if sam:
            g = self.sam_pass(x, y, adaptive=(m == "asam"))
            if m in ("looksam", "aelooksam"):
                self.store_direction(g)
        elif m in ("looksam", "aelooksam"):
            self.reuse_direction()
        self.opt.step()
        return sam


# ---- timing -------------------------------------------------------------------------------------------------

def percentile(sorted_ms, q):
    if not sorted_ms:
        return float("nan")
    pos = q * (len(sorted_ms) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_ms[lo] + (pos - lo) * (sorted_ms[hi] - sorted_ms[lo])


# Fashion-MNIST's pixel mean and standard deviation (as sam4j's Normalization computes them on the train set).
DATA_MEAN, DATA_STD = 0.2860, 0.3530


def make_inputs(kind, batch, shape, gen):
    """One batch: torch.randn, or values distributed like normalised image data (see the module comment)."""
    if kind == "randn":
        return torch.randn(batch, *shape, generator=gen)
    pixels = torch.rand(batch, *shape, generator=gen)
    pixels = torch.where(torch.rand(batch, *shape, generator=gen) < 0.5, torch.zeros_like(pixels), pixels)
    return (pixels - DATA_MEAN) / DATA_STD


CONFIGS = [{"set_to_none": stn, "inputs": inp} for stn in (True, False) for inp in ("randn", "data")]


def config_name(c):
    return f"zero_grad(set_to_none={c['set_to_none']}), inputs={c['inputs']}"


def parse_config(text):
    m = re.fullmatch(r"set_to_none=(true|false),inputs=(randn|data)", text.strip().lower())
    if not m:
        raise SystemExit(f"pytorch_sam: --config: expected auto or set_to_none=true|false,inputs=randn|data, got '{text}'")
    return {"set_to_none": m.group(1) == "true", "inputs": m.group(2)}


def choose_config(model_name, shape, classes, batch, device, seed, trial_steps):
    """The fastest configuration of ERM steps for this model and batch: a short trial, all configurations
    interleaved step by step (so a slow phase of a shared machine hits each alike); median ms each."""
    gen = torch.Generator().manual_seed(seed)
    data = {k: ([make_inputs(k, batch, shape, gen).to(device) for _ in range(4)],
                [torch.randint(0, classes, (batch,), generator=gen).to(device) for _ in range(4)]) for k in ("randn", "data")}
    trainees = [Trainee("erm", model_name, shape, classes, device, seed, c["set_to_none"]) for c in CONFIGS]
    times = [[] for _ in CONFIGS]
    warm = max(3, trial_steps // 4)
    for i in range(warm + trial_steps):
        for j, (c, tr) in enumerate(zip(CONFIGS, trainees)):
            xs, ys = data[c["inputs"]]
            t0 = time.perf_counter()
            tr.step(xs[i % 4], ys[i % 4], i, warm + trial_steps)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warm:
                times[j].append((time.perf_counter() - t0) * 1e3)
    medians = [percentile(sorted(t), 0.5) for t in times]
    best = min(range(len(CONFIGS)), key=lambda j: medians[j])
    trial = {config_name(c): round(m, 3) for c, m in zip(CONFIGS, medians)}
    print(f"pytorch_sam: {model_name} batch {batch}: fastest {config_name(CONFIGS[best])}; trial medians ms "
          + ", ".join(f"{k}: {v}" for k, v in trial.items()), file=sys.stderr, flush=True)
    del trainees
    return CONFIGS[best], trial


def bench(model_name, methods, shape, classes, batch, warmup, steps, device, seed, config, trial=None):
    """Times the methods interleaved; returns one dict per method (the JSON line)."""
    gen = torch.Generator().manual_seed(seed)
    xs = [make_inputs(config["inputs"], batch, shape, gen).to(device) for _ in range(4)]
    ys = [torch.randint(0, classes, (batch,), generator=gen).to(device) for _ in range(4)]
    trainees = [Trainee(m, model_name, shape, classes, device, seed, config["set_to_none"]) for m in methods]
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    total = warmup + steps
    times = [[] for _ in methods]
    paths = [[] for _ in methods]
    for i in range(total):
        for j, tr in enumerate(trainees):
            t0 = time.perf_counter()
            sam = tr.step(xs[i % 4], ys[i % 4], i, total)
            if cuda:
                torch.cuda.synchronize()  # the step is done when the device is
            dt = (time.perf_counter() - t0) * 1e3
            if i >= warmup:
                times[j].append(dt)
                paths[j].append(sam)
    out = []
    for j, m in enumerate(methods):
        ms = sorted(times[j])
        erm_ms = sorted(t for t, s in zip(times[j], paths[j]) if not s)
        sam_ms = sorted(t for t, s in zip(times[j], paths[j]) if s)
        mean = statistics.fmean(ms)
        out.append({"impl": "pytorch", "model": model_name, "optimizer": m, "batch": batch, "steps": steps,
                    "median_ms": percentile(ms, 0.5), "p90_ms": percentile(ms, 0.9), "mean_ms": mean,
                    "sam_fraction": len(sam_ms) / len(ms), "median_erm_path_ms": percentile(erm_ms, 0.5),
                    "median_sam_path_ms": percentile(sam_ms, 0.5), "images_per_second": round(batch * 1000 / mean),
                    "params": sum(p.numel() for p in trainees[j].params)})
    if "erm" in methods:
        erm = out[methods.index("erm")]
        for r in out:
            r["vs_erm_mean"] = r["mean_ms"] / erm["mean_ms"]
            r["vs_erm_median"] = r["median_ms"] / erm["median_ms"]
    for r in out:
        r["backend"] = device.type
        r["torch"] = torch.__version__
        r["threads"] = torch.get_num_threads()
        r["interop_threads"] = torch.get_num_interop_threads()
        r["peer_config"] = config_name(config)
        if trial is not None:
            r["trial_ms"] = trial
        r["openblas_env_unset"] = FORCED_OPENBLAS if "--keep-openblas-env" not in sys.argv else []
        if cuda:
            # Peak over all the methods' models together (PyTorch's allocator has no per-model count).
            r["device_peak_mb"] = torch.cuda.max_memory_allocated() / 1048576
    del trainees
    return out


def ints(text, what):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"pytorch_sam: {what}: expected comma-separated integers, got '{text}'")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--optimizers", default="erm")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--batch-sizes", help="several batch sizes, one after another (overrides --batch-size)")
    ap.add_argument("--input", default="1,28,28", help="per-example input shape C,H,W")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (off by default, as in sam4j)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--config", default="auto", help="auto (trial, fastest wins) or set_to_none=true|false,inputs=randn|data")
    ap.add_argument("--trial-steps", type=int, default=20, help="timed ERM steps per configuration in the auto trial")
    ap.add_argument("--keep-openblas-env", action="store_true", help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE")
    a = ap.parse_args(argv)
    fixed = None if a.config.strip().lower() == "auto" else parse_config(a.config)
    shape = ints(a.input, "--input")
    if len(shape) != 3:
        raise SystemExit(f"pytorch_sam: --input: expected C,H,W, got '{a.input}'")
    batches = ints(a.batch_sizes, "--batch-sizes") if a.batch_sizes else [a.batch_size]
    if a.steps < 1 or a.warmup < 0 or min(batches) < 1:
        raise SystemExit("pytorch_sam: --steps and batch sizes must be >= 1, --warmup >= 0")
    methods = [m.strip() for m in a.optimizers.split(",") if m.strip()]
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)  # eager steps of one model at a time: no inter-op parallelism to use
    except RuntimeError:
        pass  # already fixed (it can be set once per process, before any parallel work)
    dev = a.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("pytorch_sam: --device cuda, but torch.cuda.is_available() is False")
        torch.backends.cudnn.benchmark = True  # the usual setting for fixed shapes
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    device = torch.device(dev)
    for m in a.models.split(","):
        for b in batches:
            if fixed is None:
                config, trial = choose_config(m.strip(), tuple(shape), a.classes, b, device, a.seed, max(1, a.trial_steps))
            else:
                config, trial = fixed, None
            for r in bench(m.strip(), methods, tuple(shape), a.classes, b, a.warmup, a.steps, device, a.seed, config, trial):
                # NaN (e.g. no SAM-path step) is not JSON: null, as sam4j writes it.
                r = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
