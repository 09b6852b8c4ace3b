#!/usr/bin/env python3
"""sam4j's step at each precision against PyTorch's fastest configuration for that precision (stdlib only).

Reads `sam4j bench` lines (one file per precision, PREC=FILE; a line's own "precision" wins over PREC; a file may
hold both image layouts, "image_layout", and then sam4j's row is its faster layout per method, named) and the
PyTorch peer's lines (pytorch_sam.py --precision ... --configs ...: one line per configuration and method,
or one {"available": false, "reason": ...} line per configuration that could not run). Per model, batch,
precision and method it picks PyTorch's fastest configuration of that precision for that method and names it:
by mean ms per step, except for the adaptive methods (aesam, aelooksam), which are compared at sam4j's SAM
fraction f: PyTorch's cost there is (1 - f) x its ERM-path median + f x its SAM-path median in that
configuration (where its own policy never took a path, the same configuration's erm or sam mean stands in),
since each implementation's policy decides from its own statistic and their fractions differ.

Writes a markdown report (the per-precision table with peak memory alongside, the bf16 targets (docs/BENCHMARKS.md, Targets), and
every PyTorch configuration timed or unavailable, with the reason) and a JSON document; --fp32-lines writes
sam4j's fp32 lines and, per model, batch and method, the line of PyTorch's fastest fp32 configuration: what
`sam4j bench-report` pairs (it keeps one line per implementation, model, method and batch).

  precision_report.py [--sam4j PREC=FILE]... [--sam4j-missing PREC=REASON]... [--pytorch FILE]...
                      [--markdown OUT] [--json OUT] [--fp32-lines OUT] [--title TEXT] [--meta KEY=VALUE]...
"""
import argparse
import json
import math
import sys

PRECISIONS = ("fp32", "tf32", "bf16")
ADAPTIVE = ("aesam", "aelooksam")
METHOD_ORDER = ("erm", "sam", "asam", "esam", "sssam", "looksam", "aesam", "aelooksam", "msam")
# The mixed-precision targets, in bf16 (a benchmark, judged on a GPU run, never a timed test).
ERM_TARGET, SAM_OVER_ERM_TARGET, AESAM_TARGET = 0.8, 2.02, 0.8


def num(line, key):
    v = line.get(key) if line else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def read_lines(path):
    out = []
    with open(path) as f:
        for i, text in enumerate(f, 1):
            text = text.strip()
            if not text.startswith("{"):
                continue  # progress lines
            try:
                out.append(json.loads(text))
            except json.JSONDecodeError as e:
                raise SystemExit(f"precision_report: {path} line {i}: not JSON ({e})")
    return out


def pair(spec, what):
    if "=" not in spec:
        raise SystemExit(f"precision_report: {what}: expected KEY=VALUE, got '{spec}'")
    k, v = spec.split("=", 1)
    return k.strip(), v


def pytorch_cost(line, by_config, f):
    """PyTorch's ms per step of this line's method: its mean, or for an adaptive method at SAM fraction f."""
    if line["optimizer"] not in ADAPTIVE or f is None:
        return num(line, "mean_ms")
    same = by_config.get((line["model"], line["batch"], line.get("config")), {})
    erm = num(line, "median_erm_path_ms")
    if erm is None:
        erm = num(same.get("erm"), "mean_ms")
    sam = num(line, "median_sam_path_ms")
    if sam is None:
        sam = num(same.get("sam"), "mean_ms")
    if erm is None or sam is None:
        return None
    return (1 - f) * erm + f * sam


def sam4j_memory(line):
    """(MiB, what): device memory on a GPU, else what the method keeps alive on the heap."""
    dev = num(line, "device_mb")
    if dev is not None and (dev > 0 or str(line.get("backend", "")).startswith("cuda")):
        return dev, "device"
    heap = num(line, "heap_mb")
    return heap, "heap" if heap is not None else None


def build(sam4j_lines, missing, pytorch_lines):
    torch_ok = [l for l in pytorch_lines if l.get("available", True) and l.get("optimizer")]
    unavailable = [l for l in pytorch_lines if l.get("available") is False]
    for l in torch_ok:
        l.setdefault("precision", "fp32")  # lines of a peer older than --precision: fp32, TF32 as it was run
        l.setdefault("config", "fp32:nchw:none")
    by_config = {}
    for l in torch_ok:
        by_config.setdefault((l["model"], l["batch"], l["config"]), {})[l["optimizer"]] = l
    # sam4j may be timed in both image layouts ("image_layout", nchw where a line predates it): like PyTorch's, its
    # row is its fastest layout per method, named; the SAM / ERM ratio is taken within that layout.
    every = {}
    for l in sam4j_lines:
        l.setdefault("image_layout", "nchw")
        every.setdefault((l["model"], l["batch"], l["precision"], l["optimizer"]), {})[l["image_layout"]] = l
    ours = {k: min(v.values(), key=lambda l: num(l, "mean_ms") if num(l, "mean_ms") is not None else float("inf"))
            for k, v in every.items()}
    keys = set(ours) | {(l["model"], l["batch"], l["precision"], l["optimizer"]) for l in torch_ok}
    models = []
    for k in list(ours) + [(l["model"], l["batch"], l["precision"], l["optimizer"]) for l in torch_ok]:
        if (k[0], k[1]) not in models:
            models.append((k[0], k[1]))

    # a precision asked for but with no sam4j line still gets its rows (saying why), where PyTorch ran the method
    for prec in missing:
        keys |= {(k[0], k[1], prec, k[3]) for k in list(keys)}

    def order(k):
        return (models.index((k[0], k[1])), PRECISIONS.index(k[2]) if k[2] in PRECISIONS else 9,
                METHOD_ORDER.index(k[3]) if k[3] in METHOD_ORDER else 99, k[3])

    rows = []
    for k in sorted(keys, key=order):
        model, batch, prec, method = k
        s = ours.get(k)
        f = num(s, "sam_fraction") if method in ADAPTIVE else None
        best, best_ms = None, None
        for l in torch_ok:
            if (l["model"], l["batch"], l["precision"], l["optimizer"]) != k:
                continue
            c = pytorch_cost(l, by_config, f)
            if c is not None and (best_ms is None or c < best_ms):
                best, best_ms = l, c
        s_ms = num(s, "mean_ms")
        mem, mem_kind = sam4j_memory(s) if s else (None, None)
        erm = every.get((model, batch, prec, "erm"), {}).get(s["image_layout"]) if s else None
        rows.append({
            "model": model, "batch": batch, "precision": prec, "optimizer": method,
            "sam4j_mean_ms": s_ms, "sam4j_sam_fraction": num(s, "sam_fraction"),
            "sam4j_layout": s["image_layout"] if s else None,
            "sam4j_ms_by_layout": {lay: num(l, "mean_ms") for lay, l in sorted(every.get(k, {}).items())},
            "sam4j_vs_erm": s_ms / num(erm, "mean_ms") if s_ms and num(erm, "mean_ms") else None,
            "sam4j_mb": mem, "sam4j_memory": mem_kind,
            "sam4j_missing": None if s else missing.get(prec, "no sam4j line"),
            "pytorch_config": best["config"] if best else None,
            "pytorch_config_detail": best.get("config_detail") if best else None,
            "pytorch_ms": best_ms, "pytorch_at_sam4j_fraction": f is not None and best is not None,
            "pytorch_sam_fraction": num(best, "sam_fraction"), "pytorch_peak_mb": num(best, "device_peak_mb"),
            "pytorch_configs_compared": sum(1 for l in torch_ok if (l["model"], l["batch"], l["precision"], l["optimizer"]) == k),
            "sam4j_over_pytorch": s_ms / best_ms if s_ms and best_ms else None,
        })
    return rows, by_config, unavailable, models


def targets(rows, models):
    """The bf16 targets per model and batch: measured, or not measured and why."""
    out = []
    get = {(r["model"], r["batch"], r["precision"], r["optimizer"]): r for r in rows}
    for model, batch in models:
        erm, sam, ae = (get.get((model, batch, "bf16", m)) for m in ("erm", "sam", "aesam"))

        def item(name, value, limit, why):
            out.append({"model": model, "batch": batch, "target": name, "limit": limit, "value": value,
                        "met": None if value is None else value <= limit, "why_not_measured": None if value is not None else why})

        def why(r, need_torch=True):
            if r is None:
                return "method not run in bf16"
            if r["sam4j_mean_ms"] is None:
                return "no sam4j bf16 line" + (f" ({r['sam4j_missing']})" if r["sam4j_missing"] else "")
            if need_torch and r["pytorch_ms"] is None:
                return "no PyTorch bf16 configuration ran"
            return None

        item("ERM step, sam4j / PyTorch's fastest bf16 configuration", erm and erm["sam4j_over_pytorch"], ERM_TARGET, why(erm))
        item("SAM / ERM step, sam4j bf16", sam and sam["sam4j_vs_erm"], SAM_OVER_ERM_TARGET,
             why(sam, False) or (why(erm, False) if sam else None))
        item("AE-SAM step, sam4j / PyTorch's AE-SAM at sam4j's SAM fraction (bf16)", ae and ae["sam4j_over_pytorch"],
             AESAM_TARGET, why(ae))
    return out


def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def markdown(title, meta, rows, tgts, by_config, unavailable, models, missing):
    md = [f"# {title}", ""]
    md += [f"- {k}: {v}" for k, v in meta.items()]
    md += ["", "Per method, PyTorch's fastest configuration of the same precision (named); adaptive methods at "
           "sam4j's SAM fraction (PyTorch's per-path medians mixed at that fraction, marked *). Memory: sam4j's "
           "device (or, on the CPU, heap) MiB of the method's model and optimizer; PyTorch's "
           "torch.cuda.max_memory_allocated over the method's warm-up, inputs excluded.", "",
           "| model | batch | precision | method | sam4j mean ms | sam4j x ERM | sam4j MiB | PyTorch's fastest configuration "
           "| PyTorch ms | PyTorch peak MiB | sam4j / PyTorch |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = {}  # why sam4j has no line, once per reason: reason -> precisions
    for r in rows:
        if r["sam4j_mean_ms"] is None:
            ps = notes.setdefault(str(r["sam4j_missing"]).replace("|", "/"), [])
            if r["precision"] not in ps:
                ps.append(r["precision"])
        s_ms = fmt(r["sam4j_mean_ms"]) if r["sam4j_mean_ms"] is not None else "n/a †"
        if r["sam4j_sam_fraction"] is not None and r["optimizer"] in ADAPTIVE:
            s_ms += f" (%SAM {r['sam4j_sam_fraction']:.2f})"
        if len(r.get("sam4j_ms_by_layout") or {}) > 1:  # timed in both layouts: which was faster, and the other's time
            others = ", ".join(f"{lay} {fmt(ms)}" for lay, ms in r["sam4j_ms_by_layout"].items() if lay != r["sam4j_layout"])
            s_ms += f" `{r['sam4j_layout']}` (vs {others})"
        cfg = f"`{r['pytorch_config']}` of {r['pytorch_configs_compared']}" if r["pytorch_config"] else "none ran"
        t_ms = fmt(r["pytorch_ms"]) + (" *" if r["pytorch_at_sam4j_fraction"] else "")
        mem = fmt(r["sam4j_mb"], 1) + (" (heap)" if r["sam4j_memory"] == "heap" else "")
        md.append(f"| {r['model']} | {r['batch']} | {r['precision']} | {r['optimizer']} | {s_ms} | {fmt(r['sam4j_vs_erm'])} "
                  f"| {mem} | {cfg} | {t_ms} | {fmt(r['pytorch_peak_mb'], 1)} | {fmt(r['sam4j_over_pytorch'])} |")
    if not rows:
        md += ["", "No timing line from either implementation."]
        notes = {why: [p] for p, why in missing.items()}
    if notes:
        md.append("")
        md += [f"† no sam4j line at {', '.join(ps)}: {why}" for why, ps in notes.items()]
    md += ["", "## bf16 targets", "", "| model | batch | target | limit | value | |", "|---|---|---|---|---|---|"]
    for t in tgts:
        verdict = "**met**" if t["met"] else ("not met" if t["met"] is False else f"not measured: {t['why_not_measured']}")
        md.append(f"| {t['model']} | {t['batch']} | {t['target']} | ≤ {t['limit']} | {fmt(t['value'])} | {verdict} |")
    md += ["", "## Every PyTorch configuration", "",
           "| model | batch | configuration | in words | ERM mean ms | SAM mean ms | AE-SAM mean ms (%SAM) | config peak MiB | warm-up s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (model, batch, config), ms in by_config.items():
        any_line = next(iter(ms.values()))
        ae = ms.get("aesam")
        ae_txt = f"{fmt(num(ae, 'mean_ms'))} ({fmt(num(ae, 'sam_fraction'))})" if ae else "n/a"
        warm = sum(num(l, "warmup_s") or 0 for l in ms.values())
        md.append(f"| {model} | {batch} | `{config}` | {any_line.get('config_detail', '')} | {fmt(num(ms.get('erm'), 'mean_ms'))} "
                  f"| {fmt(num(ms.get('sam'), 'mean_ms'))} | {ae_txt} | {fmt(num(any_line, 'config_peak_mb'), 1)} | {warm:.1f} |")
    for u in unavailable:
        reason = str(u.get("reason")).replace("|", "/")
        md.append(f"| {u.get('model')} | {u.get('batch')} | `{u.get('config')}` | unavailable: {reason} | | | | | |")
    return "\n".join(md) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sam4j", action="append", default=[], help="PREC=FILE: sam4j bench lines run at precision PREC")
    ap.add_argument("--sam4j-missing", action="append", default=[], help="PREC=REASON: why sam4j has no lines at PREC")
    ap.add_argument("--pytorch", action="append", default=[], help="FILE: the PyTorch peer's lines")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--fp32-lines")
    ap.add_argument("--title", default="sam4j against PyTorch's fastest configuration, per precision")
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args(argv)
    sam4j_lines = []
    for spec in a.sam4j:
        prec, path = pair(spec, "--sam4j")
        for l in read_lines(path):
            if l.get("impl") == "sam4j":
                l.setdefault("precision", prec)
                sam4j_lines.append(l)
    missing = dict(pair(s, "--sam4j-missing") for s in a.sam4j_missing)
    pytorch_lines = [l for p in a.pytorch for l in read_lines(p) if l.get("impl") == "pytorch"]
    meta = dict(pair(s, "--meta") for s in a.meta)
    rows, by_config, unavailable, models = build(sam4j_lines, missing, pytorch_lines)
    tgts = targets(rows, models)
    text = markdown(a.title, meta, rows, tgts, by_config, unavailable, models, missing)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "targets": tgts, "unavailable": unavailable,
                       "configs": [{"model": m, "batch": b, "config": c, **{o: num(l, "mean_ms") for o, l in ms.items()}}
                                   for (m, b, c), ms in by_config.items()]}, f, indent=1)
    if a.fp32_lines:
        chosen = {}
        for r in rows:
            if r["precision"] == "fp32" and r["pytorch_config"]:
                chosen[(r["model"], r["batch"], r["optimizer"])] = r["pytorch_config"]
        with open(a.fp32_lines, "w") as f:
            for l in sam4j_lines:  # NCHW: the layout the fp32 tables have always paired
                if l["precision"] == "fp32" and l.get("image_layout", "nchw") == "nchw":
                    f.write(json.dumps(l) + "\n")
            for l in pytorch_lines:
                if l.get("available", True) and l.get("optimizer") and chosen.get((l["model"], l["batch"], l["optimizer"])) == l.get("config") \
                        and l.get("precision") == "fp32":
                    f.write(json.dumps(l) + "\n")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
