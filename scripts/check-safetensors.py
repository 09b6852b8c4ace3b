#!/usr/bin/env python3
"""Reads a safetensors file written by sam4j (a checkpoint or `sam4j export`) with nothing but the
standard library and PyTorch, as a check that other tools see what sam4j meant to write.

    scripts/check-safetensors.py FILE [--mlp IN CLASSES]

Prints the metadata and every tensor's name, dtype and shape; with --mlp, also loads the weights with
load_state_dict(strict=True) into the PyTorch twin of sam4j's mlp (layers.1/3/5 Linear layers).
"""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    return meta, header, data[8 + n:]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    meta, header, body = read(argv[1])
    print("metadata:", {k: (v if len(v) < 60 else v[:57] + "...") for k, v in meta.items()})
    for name, t in header.items():
        print(f"{name}: {t['dtype']} {t['shape']} bytes {t['data_offsets']}")
    if "--mlp" in argv:
        import torch
        i = argv.index("--mlp")
        inputs, classes = int(argv[i + 1]), int(argv[i + 2])
        tensors = {}
        for name, t in header.items():
            if name.startswith(("optim.", "policy.")):
                continue
            b, e = t["data_offsets"]
            tensors[name] = torch.frombuffer(bytearray(body[b:e]), dtype=torch.float32).reshape(t["shape"])

        class Mlp(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = torch.nn.Sequential(
                    torch.nn.Flatten(), torch.nn.Linear(inputs, 512), torch.nn.ReLU(),
                    torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, classes))

        print("load_state_dict(strict=True):", Mlp().load_state_dict(tensors, strict=True))


if __name__ == "__main__":
    main(sys.argv)
