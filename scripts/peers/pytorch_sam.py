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

Precisions and device configurations (--precision, --configs). Each timed configuration is named
PRECISION:LAYOUT:COMPILE and its lines carry "precision", "layout", "compile", "config" (that name) and
"config_detail" (in words):
  precision  fp32  TF32 off (torch.backends.cuda.matmul.allow_tf32 = cudnn.allow_tf32 = False)
             tf32  TF32 on for matmuls and convolutions (CUDA only: PyTorch's CPU has no TF32)
             bf16  torch.autocast(device, dtype=torch.bfloat16) around the forward pass, TF32 on for what
                   autocast leaves in fp32; the loss in fp32; no GradScaler (bf16 has fp32's range). On the
                   CPU this is torch.autocast('cpu', torch.bfloat16), what PyTorch offers a CPU user for bf16
                   (fast only on CPUs with bf16 instructions); the fp32 master weights and the SAM math stay fp32
  layout     nchw | channels_last  (model.to(memory_format=torch.channels_last), inputs likewise)
  compile    none (eager) | default | max-autotune-no-cudagraphs | reduce-overhead  (torch.compile(model, mode=...));
             under a compiled model the SAM pass keeps BatchNorm's running statistics by saving and restoring
             them (changing .momentum would recompile the graph)
  --configs auto: on CUDA every layout x compile mode for each --precision (eager first, then the compiled
  ones, cheapest first); on the CPU nchw eager for each --precision. Or a comma-separated list of
  PRECISION:LAYOUT:COMPILE, each field a value or * (all; * precision means each of --precision).
The zero_grad / inputs trial above runs once per model and batch, in fp32 eager; its winner holds for every
configuration. cudnn.benchmark is on for every CUDA configuration (the usual setting for fixed shapes). Each configuration is
warmed up outside the timing (its methods one after another: model built, one SAM-path step for every method that
can take one, then --warmup steps, at least 3 under torch.compile), then its methods are timed interleaved as
above. A configuration that cannot run (no torch.compile in this PyTorch, TF32 on the CPU, a compile error, out
of memory, warm-up over --compile-timeout seconds) prints one line {"impl": "pytorch", "available": false,
"config": ..., "reason": ...} (no "optimizer") and the run goes on. On CUDA each method's line has
"device_peak_mb": torch.cuda.max_memory_allocated over its own warm-up (reset before its model is built, the
input batches not counted), and "config_peak_mb" the peak of the whole configuration (all its models together).

  python3 pytorch_sam.py [--models mlp,cnn] [--optimizers erm,sam,...] [--batch-size 128 | --batch-sizes 32,64]
                         [--input 1,28,28] [--classes 10] [--warmup 20] [--steps 100] [--threads 2]
                         [--device cpu|cuda|auto] [--precision fp32[,tf32,bf16]] [--configs auto|P:L:C,...]
                         [--compile-timeout 600] [--tf32] [--seed 42]
                         [--config auto | set_to_none=B,inputs=randn|data] [--keep-openblas-env]
"""
import argparse
import contextlib
import gc
import json
import math
import os
import random
import re
import signal
import statistics
import sys
import time
from collections import namedtuple

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


# ---- precisions and device configurations --------------------------------------------------------------------

PRECISIONS = ("fp32", "tf32", "bf16")
LAYOUTS = ("nchw", "channels_last")
COMPILE_MODES = ("none", "default", "max-autotune-no-cudagraphs", "reduce-overhead")  # cheapest to compile first


class DeviceConfig(namedtuple("DeviceConfig", "precision layout compile")):
    """How the steps run: precision (fp32, tf32, bf16), memory layout and torch.compile mode."""

    @property
    def name(self):
        return f"{self.precision}:{self.layout}:{self.compile}"

    def detail(self, device_type):
        p = {"fp32": "fp32, TF32 off", "tf32": "fp32 with TF32 matmuls and convolutions",
             "bf16": f"torch.autocast('{device_type}', torch.bfloat16)" + (" + TF32" if device_type == "cuda" else "")}
        c = "eager" if self.compile == "none" else (
            "torch.compile" if self.compile == "default" else f"torch.compile(mode='{self.compile}')")
        return ", ".join([p[self.precision], self.layout, c] + (["cudnn.benchmark"] if device_type == "cuda" else []))


FP32_EAGER = DeviceConfig("fp32", "nchw", "none")


def parse_device_configs(text, precisions, device_type):
    """--configs: auto, or PRECISION:LAYOUT:COMPILE,... with * for every value (every --precision for the first)."""
    if text.strip().lower() == "auto":
        text = "*:*:*" if device_type == "cuda" else "*:nchw:none"
    out = []
    for tok in (t.strip().lower() for t in text.split(",") if t.strip()):
        f = tok.split(":")
        if len(f) != 3:
            raise SystemExit(f"pytorch_sam: --configs: expected PRECISION:LAYOUT:COMPILE (or auto), got '{tok}'")
        choices = []
        for v, every, valid in zip(f, (precisions, LAYOUTS, COMPILE_MODES), (PRECISIONS, LAYOUTS, COMPILE_MODES)):
            if v == "*":
                choices.append(list(every))
            elif v in valid:
                choices.append([v])
            else:
                raise SystemExit(f"pytorch_sam: --configs: '{v}' in '{tok}' is none of {', '.join(valid)} or *")
        out += [DeviceConfig(p, l, c) for p in choices[0] for l in choices[1] for c in choices[2]]
    seen, unique = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    # eager configurations first (a time limit on the whole run cuts the costly compiles, not the cheap rows)
    return sorted(unique, key=lambda c: (COMPILE_MODES.index(c.compile), PRECISIONS.index(c.precision), LAYOUTS.index(c.layout)))


def unavailable_reason(dc, device):
    """Why this PyTorch cannot run configuration dc on device at all, or None (failures at run time are caught later)."""
    if dc.precision == "tf32" and device.type != "cuda":
        return "TF32 is a CUDA tensor-core mode; PyTorch on the CPU has none (its fp32 row is the nearest)"
    if dc.precision == "bf16" and not hasattr(torch, "autocast"):
        return f"torch {torch.__version__} has no torch.autocast"
    if dc.compile != "none" and not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (PyTorch 2.0 or later)"
    if dc.compile == "reduce-overhead" and device.type != "cuda":
        return "mode='reduce-overhead' records CUDA graphs; there are none on the CPU"
    return None


def apply_precision(dc, device):
    """The global TF32 switches of a configuration (bf16: on for what autocast leaves in fp32, as a throughput user runs)."""
    if device.type == "cuda":
        on = dc.precision in ("tf32", "bf16")
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


@contextlib.contextmanager
def time_limit(seconds):
    """Raises TimeoutError in the block after seconds (None or 0: no limit); SIGALRM, so the main thread only."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"warm-up (torch.compile included) took over {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(math.ceil(seconds)))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def reason_of(e):
    """A one-line reason from an exception (torch.compile's messages run to pages)."""
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:400]


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

    def __init__(self, method, model_name, shape, classes, device, seed, set_to_none=True, dc=FP32_EAGER):
        if method not in METHODS:
            raise SystemExit(f"pytorch_sam: unknown optimizer '{method}' ({', '.join(METHODS)})")
        torch.manual_seed(seed)  # every method starts from the same weights
        self.method = method
        self.set_to_none = set_to_none
        self.model = make_model(model_name, shape, classes).to(device).train()
        if dc.layout == "channels_last":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.autocast = device.type if dc.precision == "bf16" else None
        if dc.compile == "none":
            self.forward = self.model
        else:
            self.forward = torch.compile(self.model, **({} if dc.compile == "default" else {"mode": dc.compile}))
        # reduce-overhead replays CUDA graphs whose outputs the next replay overwrites: each pass starts a new step
        self.mark_step = (dc.compile == "reduce-overhead" and hasattr(torch, "compiler")
                          and hasattr(torch.compiler, "cudagraph_mark_step_begin"))
        # a compiled model guards on BatchNorm's .momentum: pass 2 keeps the running statistics by copy instead
        self.freeze_by_copy = dc.compile != "none"
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.bns = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.opt = torch.optim.SGD(self.params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.rng = random.Random(seed)
        self.mu, self.var, self.seen = 0.0, 0.0, 0
        self.gv, self.gv_norm = None, None

    def grads(self, x, y):
        self.opt.zero_grad(set_to_none=self.set_to_none)
        if self.mark_step:
            torch.compiler.cudagraph_mark_step_begin()
        if self.autocast:
            with torch.autocast(self.autocast, dtype=torch.bfloat16):
                logits = self.forward(x)
            loss = F.cross_entropy(logits.float(), y)  # the loss in fp32 (autocast would run it in fp32 too)
        else:
            loss = F.cross_entropy(self.forward(x), y)
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
        if self.freeze_by_copy:
            stats = [(b.running_mean.clone(), b.running_var.clone(), b.num_batches_tracked.clone()) for b in self.bns]
            self.grads(x, y)
            with torch.no_grad():
                for b, (m, v, n) in zip(self.bns, stats):
                    b.running_mean.copy_(m)
                    b.running_var.copy_(v)
                    b.num_batches_tracked.copy_(n)
        else:
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

    def warm_sam_path(self, x, y):
        """One SAM-path step outside the timing (compiles and records both passes, counts them in the peak)."""
        self.grads(x, y)
        g = self.sam_pass(x, y, adaptive=(self.method == "asam"))
        if self.method in ("looksam", "aelooksam"):
            self.store_direction(g)
        self.opt.step()

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


def bench(model_name, methods, shape, classes, batch, warmup, steps, device, seed, config, trial=None, dc=FP32_EAGER,
          compile_timeout=None):
    """Times the methods under device configuration dc, interleaved; returns one dict per method (the JSON line).
    Raises what the configuration raises (a compile error, out of memory, TimeoutError): see run_config."""
    apply_precision(dc, device)
    gen = torch.Generator().manual_seed(seed)
    xs = [make_inputs(config["inputs"], batch, shape, gen).to(device) for _ in range(4)]
    ys = [torch.randint(0, classes, (batch,), generator=gen).to(device) for _ in range(4)]
    if dc.layout == "channels_last" and len(shape) == 3:
        xs = [x.contiguous(memory_format=torch.channels_last) for x in xs]
    cuda = device.type == "cuda"
    mib = 1048576.0
    total = warmup + steps
    warm = warmup if dc.compile == "none" else max(3, warmup)  # compiling and CUDA-graph recording take a few calls
    trainees, peaks, warm_s = [], [], []
    if cuda:
        torch.cuda.synchronize()
        config_base = torch.cuda.memory_allocated()
        config_peak = 0
    # Warm-up, method by method: its model built, a SAM-path step where the method can take one, then warm steps.
    for m in methods:
        if cuda:
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        with time_limit(compile_timeout if dc.compile != "none" else None):
            tr = Trainee(m, model_name, shape, classes, device, seed, config["set_to_none"], dc)
            trainees.append(tr)
            if m != "erm":
                tr.warm_sam_path(xs[0], ys[0])
            for i in range(warm):
                tr.step(xs[i % 4], ys[i % 4], i, total)
            if cuda:
                torch.cuda.synchronize()
        warm_s.append(time.perf_counter() - t0)
        if cuda:
            peak = torch.cuda.max_memory_allocated()
            peaks.append((peak - base) / mib)
            config_peak = max(config_peak, peak - config_base)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = [[] for _ in methods]
    paths = [[] for _ in methods]
    for i in range(warmup, total):
        for j, tr in enumerate(trainees):
            t0 = time.perf_counter()
            sam = tr.step(xs[i % 4], ys[i % 4], i, total)
            if cuda:
                torch.cuda.synchronize()  # the step is done when the device is
            times[j].append((time.perf_counter() - t0) * 1e3)
            paths[j].append(sam)
    if cuda:
        config_peak = max(config_peak, torch.cuda.max_memory_allocated() - config_base)
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
                    "params": sum(p.numel() for p in trainees[j].params), "warmup_s": round(warm_s[j], 3)})
    if "erm" in methods:
        erm = out[methods.index("erm")]
        for r in out:
            r["vs_erm_mean"] = r["mean_ms"] / erm["mean_ms"]
            r["vs_erm_median"] = r["median_ms"] / erm["median_ms"]
    for j, r in enumerate(out):
        r["backend"] = device.type
        r["torch"] = torch.__version__
        r["threads"] = torch.get_num_threads()
        r["interop_threads"] = torch.get_num_interop_threads()
        r["peer_config"] = config_name(config)
        if trial is not None:
            r["trial_ms"] = trial
        r["openblas_env_unset"] = FORCED_OPENBLAS if "--keep-openblas-env" not in sys.argv else []
        r.update(available=True, precision=dc.precision, layout=dc.layout, compile=dc.compile, config=dc.name,
                 config_detail=dc.detail(device.type))
        if cuda:
            r["device_peak_mb"] = peaks[j]          # this method's model and step alone
            r["config_peak_mb"] = config_peak / mib  # every method's model of the configuration together
    del trainees
    return out


def run_config(model_name, methods, shape, classes, batch, warmup, steps, device, seed, config, trial, dc, compile_timeout):
    """bench() under dc, or one line saying why dc is unavailable; either way the run goes on."""
    reason = unavailable_reason(dc, device)
    if reason is None:
        try:
            return bench(model_name, methods, shape, classes, batch, warmup, steps, device, seed, config, trial, dc,
                         compile_timeout)
        except (Exception, TimeoutError) as e:  # a compile error, out of memory, the time limit
            reason = reason_of(e)
            e.__traceback__ = None  # its frames hold the configuration's models
        finally:
            gc.collect()
            if dc.compile != "none" and hasattr(torch, "_dynamo"):
                torch._dynamo.reset()  # the next configuration compiles afresh, under its own switches
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print(f"pytorch_sam: {model_name} batch {batch}: configuration {dc.name} unavailable: {reason}", file=sys.stderr, flush=True)
    return [{"impl": "pytorch", "model": model_name, "batch": batch, "available": False, "precision": dc.precision,
             "layout": dc.layout, "compile": dc.compile, "config": dc.name, "config_detail": dc.detail(device.type),
             "reason": reason, "backend": device.type, "torch": torch.__version__}]


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
    ap.add_argument("--precision", default="fp32", help="fp32, tf32, bf16, or several comma-separated (see the docstring)")
    ap.add_argument("--configs", default="auto", help="auto, or PRECISION:LAYOUT:COMPILE,... with * wildcards (see the docstring)")
    ap.add_argument("--compile-timeout", type=float, default=600,
                    help="seconds a compiled configuration's warm-up may take per method before it is reported unavailable (0: no limit)")
    ap.add_argument("--tf32", action="store_true", help="the same as --precision tf32 (kept for older command lines)")
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
    precisions = [p.strip().lower() for p in ("tf32" if a.tf32 else a.precision).split(",") if p.strip()]
    for p in precisions:
        if p not in PRECISIONS:
            raise SystemExit(f"pytorch_sam: --precision: expected fp32, tf32 or bf16 (comma-separated), got '{p}'")
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
    device = torch.device(dev)
    dcs = parse_device_configs(a.configs, precisions, device.type)
    if not dcs:
        raise SystemExit("pytorch_sam: --configs names no configuration")
    print(f"pytorch_sam: configurations {', '.join(c.name for c in dcs)}", file=sys.stderr, flush=True)
    for m in a.models.split(","):
        for b in batches:
            if fixed is None:
                apply_precision(FP32_EAGER, device)  # the trial is of zero_grad and inputs, in fp32 eager
                config, trial = choose_config(m.strip(), tuple(shape), a.classes, b, device, a.seed, max(1, a.trial_steps))
            else:
                config, trial = fixed, None
            for dc in dcs:
                for r in run_config(m.strip(), methods, tuple(shape), a.classes, b, a.warmup, a.steps, device, a.seed,
                                    config, trial, dc, a.compile_timeout):
                    # NaN (e.g. no SAM-path step) is not JSON: null, as sam4j writes it.
                    r = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                    print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
