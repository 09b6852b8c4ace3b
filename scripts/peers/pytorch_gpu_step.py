#!/usr/bin/env python3
"""PyTorch peer of sam4j's GPU ResNet-18 step benchmark (scripts/bench-gpu-step, scripts/gpu-check.sh).

A thin front end of pytorch_sam.py, which holds the models and the methods (written the usual PyTorch way;
see its docstring): ResNet-18 (CIFAR style) at batch 128 on synthetic 3x32x32 inputs, SGD with momentum 0.9
and weight decay 5e-4, eager mode, NCHW, torch.backends.cudnn.benchmark = True, TF32 as asked (off by default,
as in sam4j's benchmark), zero_grad(set_to_none=True). This is the fp32 eager baseline of sam4j's graph-path
benchmark; PyTorch's faster configurations (bf16 autocast, channels_last, torch.compile) are timed by
pytorch_sam.py --precision/--configs against `sam4j bench --precision` (bench-gpu-precision, scripts/bench). Methods erm, sam, aesam, looksam, aelooksam, timed interleaved (one step of each in
turn); mean ms/step after warm-up (the mean, since a mixed method's median hides its SAM steps) and images/s.
With --sam4j FILE (sam4j's resnet18 benchmark JSON) it also prints the sam4j/PyTorch ratio per method.

  python3 pytorch_gpu_step.py [--steps 30] [--warmup 10] [--batch 128] [--tf32] [--out FILE.json] [--sam4j FILE.json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
    import pytorch_sam
except Exception as e:  # the GPU check goes on without the peer
    print(f"pytorch peer: skipped, PyTorch is not importable ({e})")
    sys.exit(0)

METHODS = ("erm", "sam", "aesam", "looksam", "aelooksam")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--sam4j")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: a smoke test of this script only
    args = ap.parse_args()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("pytorch peer: skipped, torch.cuda.is_available() is False")
            return 0
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        name = f"cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}"
    else:
        name = "CPU"
    print(f"pytorch peer: torch {torch.__version__}, {name}, TF32 {'on' if args.tf32 else 'off'}, resnet18 batch "
          f"{args.batch}, 3x32x32, mean of {args.steps} after {args.warmup}, methods interleaved")
    results = {}
    try:
        dc = pytorch_sam.DeviceConfig("tf32" if args.tf32 else "fp32", "nchw", "none")
        lines = pytorch_sam.bench("resnet18", list(METHODS), (3, 32, 32), 10, args.batch, args.warmup, args.steps,
                                  torch.device(args.device), 1, {"set_to_none": True, "inputs": "randn"}, dc=dc)
    except Exception as e:
        print(f"  pytorch FAILED: {e}")
        lines = []
    for r in lines:
        m = r["optimizer"]
        results[m] = {"ms": r["mean_ms"], "images_per_s": r["images_per_second"], "sam_fraction": r["sam_fraction"],
                      "median_ms": r["median_ms"], "p90_ms": r["p90_ms"],
                      "erm_path_ms": r["median_erm_path_ms"], "sam_path_ms": r["median_sam_path_ms"]}
        print(f"  pytorch {m:<10} {r['mean_ms']:8.2f} ms/step {r['images_per_second']:9.0f} img/s  %SAM {r['sam_fraction']:.2f}")
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
        # The adaptive methods' SAM fractions differ between the two runs (each decides from its own
        # statistic), so their plain ratio compares different mixes. At sam4j's fraction f, PyTorch's cost is
        # (1-f)·(its ERM-path step) + f·(its SAM-path step), each path timed in this run (the decision's
        # .item() included); where its own policy never took a path, the erm or sam method's mean stands in.
        print("adaptive methods at sam4j's SAM fraction (PyTorch's per-path step times mixed at that fraction):")
        for m in ("aesam", "aelooksam"):
            # sam4j's JSON writes the fractions as strings ("0.43"): read both as numbers
            v, f = number(ours.get(f"resnet18_{m}_ms")), number(ours.get(f"resnet18_{m}_sam_fraction"))
            if m not in results or v is None or f is None:
                print(f"  {m:<10} not compared: sam4j's time or SAM fraction is missing")
                continue
            r = results[m]
            erm_ms = r["erm_path_ms"] if r["erm_path_ms"] == r["erm_path_ms"] else results.get("erm", {}).get("ms")
            sam_ms = r["sam_path_ms"] if r["sam_path_ms"] == r["sam_path_ms"] else results.get("sam", {}).get("ms")
            if erm_ms is None or sam_ms is None:
                continue
            equal = (1 - f) * erm_ms + f * sam_ms
            r["ms_at_sam4j_fraction"] = equal
            print(f"  {m:<10} sam4j {v:8.2f} ms at %SAM {f:.2f}  pytorch {equal:8.2f} ms at the same %SAM  ratio {v / equal:.2f}"
                  f"  (pytorch ERM path {erm_ms:.2f} ms, SAM path {sam_ms:.2f} ms)")
        if args.out:
            with open(args.out, "w") as fh:
                json.dump(results, fh, indent=1)
    return 0


def number(x):
    """x as a float (sam4j's JSON holds some numbers as strings), or None."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())
