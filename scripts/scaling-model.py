#!/usr/bin/env python3
"""Data-parallel cost model for sam4j's SAM-family steps (writes the tables of docs/SCALING.md).

    scripts/scaling-model.py [--markdown] [--busbw-nvlink GBS] [--busbw-net GBS] [--gpus-per-node N]

Weak scaling: every GPU keeps a batch of 128, so N GPUs train a global batch of 128 N. One step on N GPUs
costs the single-GPU step plus its collectives, which sam4j does not overlap with the backward pass (in
the CUDA graph the gradient all-reduce follows the conditional SAM/ERM node, after the whole backward):

    all-reduce of S bytes on N ranks:  t = alpha + (S / busbw) * 2 (N - 1) / N     (NCCL's bus bandwidth)
    local  perturbation:  ERM, SAM, AE-SAM each one gradient all-reduce; AE-SAM also one scalar all-reduce
    global perturbation:  ERM one, SAM two gradient all-reduces; AE-SAM at SAM fraction f: 1 + f
    efficiency = single-GPU step / N-GPU step

Every input is printed with its source by --markdown. Only the standard library is used.
"""
import argparse

# ---- Architectures: multiply-accumulates of one forward pass per image, counted here layer by layer.

def conv(cin, cout, k, hw_out):
    return cin * cout * k * k * hw_out * hw_out


def basic_stages(cin, hw, stages):
    """Multiply-accumulates of stages of basic blocks (two 3x3 convolutions, a 1x1 shortcut where the shape
    changes): ResNet-18's and the wide ResNets' (pre-activation moves BatchNorm, not the convolutions)."""
    macs = 0
    for width, blocks, stride in stages:
        for block in range(blocks):
            s = stride if block == 0 else 1
            hw_out = hw // s
            macs += conv(cin, width, 3, hw_out) + conv(width, width, 3, hw_out)
            if s != 1 or cin != width:
                macs += conv(cin, width, 1, hw_out)
            cin, hw = width, hw_out
    return macs


def resnet18_cifar_macs():
    stages = ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))
    return conv(3, 64, 3, 32) + basic_stages(64, 32, stages) + 512 * 10


def wrn_macs(depth=28, k=10):
    n = (depth - 4) // 6
    stages = ((16 * k, n, 1), (32 * k, n, 2), (64 * k, n, 2))
    return conv(3, 16, 3, 32) + basic_stages(16, 32, stages) + 64 * k * 10


def resnet50_imagenet_macs():
    macs = conv(3, 64, 7, 112)
    cin, hw = 64, 56  # after the 3x3/2 max pool
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            s = stride if block == 0 else 1
            hw_out = hw // s
            macs += conv(cin, width, 1, hw) + conv(width, width, 3, hw_out) + conv(width, 4 * width, 1, hw_out)
            if block == 0:
                macs += conv(cin, 4 * width, 1, hw_out)
            cin, hw = 4 * width, hw_out
    return macs + 2048 * 1000


# ---- Inputs, each with its source.

# Measured: scripts/gpu-check.sh on one NVIDIA H200, fp32 with TF32 off, batch 128, CUDA graph path,
# mean of 30 steps after 10 (README "Measured"): ResNet-18 (CIFAR shape).
R18_ERM_MS, R18_SAM_MS, R18_AE_MS, R18_AE_F = 10.95, 21.89, 15.69, 0.43

# Arena sizes (floats): sam4j's Models.paramCount for resnet18 and wrn-28-10 at 3x32x32, 10 classes;
# torchvision 0.14.1's resnet50() for the ResNet-50-sized arena.
MODELS = [
    # name, parameters, MACs per image, note on the step time
    ("ResNet-18 (CIFAR, 3x32x32)", 11_173_962, resnet18_cifar_macs(), "measured"),
    ("WRN-28-10 (CIFAR, 3x32x32)", 36_479_194, wrn_macs(28, 10), "estimated"),
    ("ResNet-50-sized (ImageNet, 3x224x224)", 25_557_032, resnet50_imagenet_macs(), "estimated"),
]

NODE_SIZES = (1, 2, 4, 8, 16, 32, 64)


def allreduce_ms(nbytes, n, busbw_gbs, alpha_us):
    if n == 1:
        return 0.0
    return alpha_us / 1000.0 + nbytes / (busbw_gbs * 1e9) * 2 * (n - 1) / n * 1000.0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--busbw-nvlink", type=float, default=360.0,
                   help="NCCL all-reduce bus bandwidth within a node, GB/s (default 360: 80%% of NVLink 4's 450 GB/s per direction)")
    p.add_argument("--busbw-net", type=float, default=45.0,
                   help="bus bandwidth across nodes, GB/s per GPU (default 45: 90%% of one 400 Gb/s NIC per GPU)")
    p.add_argument("--alpha-nvlink-us", type=float, default=15.0, help="fixed cost of one all-reduce within a node, us")
    p.add_argument("--alpha-net-us", type=float, default=40.0, help="fixed cost of one all-reduce across nodes, us")
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--compute-scale", type=float, default=1.0,
                   help="multiply every single-GPU step time by this (e.g. 0.4 for a bf16 step 2.5x faster than fp32)")
    p.add_argument("--models", default="all", help="comma-separated name prefixes of the models to print (default all)")
    a = p.parse_args()

    r18_macs = resnet18_cifar_macs()
    out = []
    for name, params, macs, how in MODELS:
        if a.models != "all" and not any(name.startswith(m) for m in a.models.split(",")):
            continue
        scale = macs / r18_macs * a.compute_scale
        if a.compute_scale != 1.0:
            how = f"{how} fp32 x {a.compute_scale:g} (an assumption)"
        erm, sam = R18_ERM_MS * scale, R18_SAM_MS * scale
        f = R18_AE_F
        ae = erm + f * (sam - erm)
        nbytes = 4 * params  # the fp32 gradient arena
        rows = []
        for n in NODE_SIZES:
            within = n <= a.gpus_per_node
            bw = a.busbw_nvlink if within else a.busbw_net
            alpha = a.alpha_nvlink_us if within else a.alpha_net_us
            g = allreduce_ms(nbytes, n, bw, alpha)
            s = allreduce_ms(8, n, bw, alpha) if n > 1 else 0.0  # one scalar (double) all-reduce
            steps = {
                "ERM": (erm, erm + g),
                "SAM local": (sam, sam + g),
                "SAM global": (sam, sam + 2 * g),
                "AE-SAM local": (ae, ae + g + s),
                "AE-SAM global": (ae, ae + (1 + f) * g),
            }
            rows.append((n, g, {k: (t1 / tn, tn) for k, (t1, tn) in steps.items()}))
        out.append((name, params, macs, how, scale, erm, sam, ae, nbytes, rows))

    if not a.markdown:
        for name, params, macs, how, scale, erm, sam, ae, nbytes, rows in out:
            print(f"{name}: {params:,} params, {macs / 1e9:.3f} GMAC/image, step times {how}: "
                  f"ERM {erm:.2f} ms, SAM {sam:.2f} ms, AE-SAM {ae:.2f} ms")
            for n, g, eff in rows:
                print(f"  N={n:3d} all-reduce {g:7.3f} ms  " + "  ".join(f"{k} {e * 100:5.1f}%" for k, (e, _) in eff.items()))
        return

    print(f"Inputs: intra-node bus bandwidth {a.busbw_nvlink:g} GB/s, alpha {a.alpha_nvlink_us:g} us; "
          f"across nodes {a.busbw_net:g} GB/s per GPU, alpha {a.alpha_net_us:g} us; {a.gpus_per_node} GPUs per node; "
          f"AE-SAM SAM fraction {R18_AE_F} (measured on ResNet-18); step times x {a.compute_scale:g}.\n")
    for name, params, macs, how, scale, erm, sam, ae, nbytes, rows in out:
        print(f"### {name}\n")
        print(f"{params:,} parameters ({nbytes / 1e6:.1f} MB fp32 gradient), {macs / 1e9:.3f} GMAC per image "
              f"(step {scale:.2f}x ResNet-18's measured fp32 step); single-GPU step at batch 128, {how}: ERM {erm:.2f} ms, SAM {sam:.2f} ms, "
              f"AE-SAM {ae:.2f} ms.\n")
        keys = list(rows[0][2].keys())
        print("| GPUs | gradient all-reduce ms | " + " | ".join(keys) + " |")
        print("|---|---|" + "---|" * len(keys))
        for n, g, eff in rows:
            print(f"| {n} | {g:.3f} | " + " | ".join(f"{eff[k][0] * 100:.1f}%" for k in keys) + " |")
        print()


if __name__ == "__main__":
    main()
