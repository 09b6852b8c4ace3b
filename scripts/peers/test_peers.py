#!/usr/bin/env python3
"""Tests of the PyTorch peer's device configurations and of precision_report.py, on the CPU.

torch.compile is replaced by stand-ins (the identity; one that raises; one whose model is too slow to warm up),
so that the compiled configurations' own code (BatchNorm statistics kept by copy, the longer warm-up, the
unavailable line with its reason, the time limit) runs on a PyTorch without torch.compile too. Nothing here
judges speed. Run: python3 scripts/peers/test_peers.py (BenchToolingTest runs it where torch is installed).
"""
import io
import json
import os
import sys
import tempfile
import time
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import pytorch_sam as ps  # noqa: E402
import precision_report as pr  # noqa: E402

CPU = torch.device("cpu")
DEFAULT = {"set_to_none": True, "inputs": "randn"}


class FakeCompile:
    """Replaces torch.compile for one test: returns what make(model, mode) returns and records the modes."""

    def __init__(self, make):
        self.make, self.modes, self.saved = make, [], None

    def __enter__(self):
        self.saved = getattr(torch, "compile", None)

        def compile_(model, mode=None):
            self.modes.append(mode)
            return self.make(model, mode)
        torch.compile = compile_
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            del torch.compile
        else:
            torch.compile = self.saved


class Slow(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        time.sleep(0.5)
        return self.inner(x)


def run(dc, methods=("erm", "sam", "aesam"), model="cnn", timeout=None, warmup=1, steps=3):
    with redirect_stderr(io.StringIO()) as err:
        lines = ps.run_config(model, list(methods), (1, 8, 8), 10, 4, warmup, steps, CPU, 7, DEFAULT, None, dc, timeout)
    return lines, err.getvalue()


class DeviceConfigs(unittest.TestCase):
    def test_auto_on_the_cpu_is_eager_nchw_for_each_precision(self):
        self.assertEqual([c.name for c in ps.parse_device_configs("auto", ["fp32", "bf16"], "cpu")],
                         ["fp32:nchw:none", "bf16:nchw:none"])

    def test_auto_on_cuda_is_every_layout_and_compile_mode_eager_first(self):
        cs = ps.parse_device_configs("auto", list(ps.PRECISIONS), "cuda")
        self.assertEqual(len(cs), 3 * 2 * 4)
        self.assertEqual(len(set(cs)), len(cs))
        self.assertTrue(all(c.compile == "none" for c in cs[:6]), cs[:6])
        self.assertEqual(cs[-1].compile, "reduce-overhead")

    def test_wildcards_expand_and_duplicates_go(self):
        cs = ps.parse_device_configs("bf16:*:none, bf16:channels_last:none, *:nchw:default", ["fp32", "tf32"], "cuda")
        self.assertEqual([c.name for c in cs], ["bf16:nchw:none", "bf16:channels_last:none", "fp32:nchw:default",
                                                "tf32:nchw:default"])

    def test_bad_configs_are_refused_naming_the_field(self):
        for bad, word in (("fp16:nchw:none", "fp16"), ("fp32:nhwc:none", "nhwc"), ("fp32:nchw", "PRECISION:LAYOUT:COMPILE"),
                          ("fp32:nchw:max-autotune", "max-autotune")):
            with self.assertRaises(SystemExit) as e:
                ps.parse_device_configs(bad, ["fp32"], "cuda")
            self.assertIn(word, str(e.exception))

    def test_tf32_and_cuda_graphs_are_unavailable_on_the_cpu_with_the_reason(self):
        for dc, word in ((ps.DeviceConfig("tf32", "nchw", "none"), "TF32"),
                         (ps.DeviceConfig("fp32", "nchw", "reduce-overhead"), "CUDA graphs")):
            with FakeCompile(lambda m, mode: m):
                lines, err = run(dc)
            self.assertEqual(len(lines), 1)
            self.assertFalse(lines[0]["available"])
            self.assertEqual(lines[0]["config"], dc.name)
            self.assertIn(word, lines[0]["reason"])
            self.assertIn("unavailable", err)

    @unittest.skipIf(hasattr(torch, "compile"), "this PyTorch has torch.compile")
    def test_compile_is_unavailable_without_torch_compile(self):
        lines, _ = run(ps.DeviceConfig("bf16", "channels_last", "default"))
        self.assertFalse(lines[0]["available"])
        self.assertIn("has no torch.compile", lines[0]["reason"])

    def test_bf16_autocast_and_channels_last_time_every_method(self):
        lines, _ = run(ps.DeviceConfig("bf16", "channels_last", "none"))
        self.assertEqual([l["optimizer"] for l in lines], ["erm", "sam", "aesam"])
        for l in lines:
            self.assertTrue(l["available"])
            self.assertEqual((l["precision"], l["layout"], l["compile"], l["config"]),
                             ("bf16", "channels_last", "none", "bf16:channels_last:none"))
            self.assertIn("torch.autocast('cpu', torch.bfloat16)", l["config_detail"])
            self.assertGreater(l["mean_ms"], 0)
        self.assertEqual(lines[1]["sam_fraction"], 1.0)

    def test_the_autocast_forward_runs_in_bf16_and_the_weights_stay_fp32(self):
        tr = ps.Trainee("sam", "cnn", (1, 8, 8), 10, CPU, 3, dc=ps.DeviceConfig("bf16", "nchw", "none"))
        seen = []
        tr.model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        tr.step(torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)), 0, 1)
        self.assertEqual(seen, [torch.bfloat16, torch.bfloat16])  # both passes of the SAM step
        self.assertTrue(all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in tr.params))

    def test_a_compiled_configuration_warms_up_longer_and_keeps_batchnorm_statistics_by_copy(self):
        with FakeCompile(lambda m, mode: m) as fake:
            lines, _ = run(ps.DeviceConfig("fp32", "nchw", "max-autotune-no-cudagraphs"))
        self.assertEqual(fake.modes, ["max-autotune-no-cudagraphs"] * 3)
        self.assertTrue(all(l["available"] and l["compile"] == "max-autotune-no-cudagraphs" for l in lines))
        with FakeCompile(lambda m, mode: m) as fake:
            run(ps.DeviceConfig("fp32", "nchw", "default"), methods=("erm",))
        self.assertEqual(fake.modes, [None])  # mode "default": torch.compile(model), no mode argument

    def test_statistics_kept_by_copy_equal_the_zeroed_momentum_of_eager(self):
        x, y = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(4)
        eager = ps.Trainee("sam", "cnn", (1, 8, 8), 10, CPU, 5)
        with FakeCompile(lambda m, mode: m):
            compiled = ps.Trainee("sam", "cnn", (1, 8, 8), 10, CPU, 5, dc=ps.DeviceConfig("fp32", "nchw", "default"))
        self.assertTrue(compiled.freeze_by_copy and not eager.freeze_by_copy)
        for t in range(3):
            eager.step(x, y, t, 3)
            compiled.step(x, y, t, 3)
        for a, b in zip(eager.model.state_dict().items(), compiled.model.state_dict().items()):
            if a[0].endswith("num_batches_tracked"):
                continue  # eager counts both passes (momentum 0 still counts); the copy restores the count too
            self.assertTrue(torch.equal(a[1], b[1]), a[0])
        self.assertEqual(int(compiled.bns[0].num_batches_tracked), 3)

    def test_a_compile_failure_is_a_configuration_unavailable_with_its_reason(self):
        def fail(m, mode):
            raise RuntimeError("backend inductor failed\nwith a long traceback")
        with FakeCompile(fail):
            lines, err = run(ps.DeviceConfig("bf16", "nchw", "default"))
        self.assertEqual(len(lines), 1)
        self.assertFalse(lines[0]["available"])
        self.assertEqual(lines[0]["reason"], "RuntimeError: backend inductor failed")
        self.assertIn("bf16:nchw:default unavailable", err)

    def test_a_warm_up_over_the_time_limit_is_a_configuration_unavailable(self):
        with FakeCompile(lambda m, mode: Slow(m)):
            t0 = time.perf_counter()
            lines, _ = run(ps.DeviceConfig("fp32", "nchw", "default"), methods=("sam",), timeout=1)
        self.assertFalse(lines[0]["available"])
        self.assertIn("TimeoutError", lines[0]["reason"])
        self.assertLess(time.perf_counter() - t0, 30)

    def test_the_command_line_goes_on_after_an_unavailable_configuration(self):
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            ps.main(["--models", "mlp:8", "--input", "1,4,4", "--batch-size", "4", "--warmup", "1", "--steps", "2", "--threads",
                     "1", "--config", "set_to_none=true,inputs=randn", "--optimizers", "erm,sam", "--precision", "fp32,tf32,bf16"])
        lines = [json.loads(l) for l in out.getvalue().splitlines()]
        self.assertEqual([(l["config"], l.get("optimizer")) for l in lines],
                         [("fp32:nchw:none", "erm"), ("fp32:nchw:none", "sam"), ("tf32:nchw:none", None),
                          ("bf16:nchw:none", "erm"), ("bf16:nchw:none", "sam")])


def line(impl, model, method, ms, prec="fp32", config=None, **kw):
    d = {"impl": impl, "model": model, "optimizer": method, "batch": 128, "mean_ms": ms, "precision": prec}
    if config:
        d.update(config=config, config_detail="words", available=True)
    d.update(kw)
    return d


class PrecisionReport(unittest.TestCase):
    def report(self, ours, theirs, missing=()):
        with tempfile.TemporaryDirectory() as d:
            files = []
            for prec in {l["precision"] for l in ours}:
                p = os.path.join(d, f"s-{prec}.jsonl")
                with open(p, "w") as f:
                    f.write("a progress line\n" + "".join(json.dumps({k: v for k, v in l.items() if k != "precision"}) + "\n"
                                                          for l in ours if l["precision"] == prec))
                files += ["--sam4j", f"{prec}={p}"]
            t = os.path.join(d, "t.jsonl")
            with open(t, "w") as f:
                f.write("".join(json.dumps(l) + "\n" for l in theirs))
            args = files + ["--pytorch", t, "--json", os.path.join(d, "r.json"), "--fp32-lines", os.path.join(d, "f.jsonl")]
            for m in missing:
                args += ["--sam4j-missing", m]
            with redirect_stdout(io.StringIO()) as md:
                pr.main(args)
            with open(os.path.join(d, "r.json")) as f:
                doc = json.load(f)
            with open(os.path.join(d, "f.jsonl")) as f:
                fp32 = [json.loads(l) for l in f]
        return doc, fp32, md.getvalue()

    def test_the_fastest_configuration_of_each_precision_is_named_with_the_ratio(self):
        ours = [line("sam4j", "resnet18", "erm", 8.0), line("sam4j", "resnet18", "erm", 4.0, "bf16"),
                line("sam4j", "resnet18", "sam", 9.0, "bf16", device_mb=300.0, backend="cuda")]
        theirs = [line("pytorch", "resnet18", "erm", 10.0, "fp32", "fp32:nchw:none"),
                  line("pytorch", "resnet18", "erm", 6.0, "bf16", "bf16:nchw:none"),
                  line("pytorch", "resnet18", "erm", 5.0, "bf16", "bf16:channels_last:default", device_peak_mb=900.0),
                  line("pytorch", "resnet18", "sam", 11.0, "bf16", "bf16:channels_last:default"),
                  line("pytorch", "resnet18", "sam", 10.0, "bf16", "bf16:nchw:none"),
                  {"impl": "pytorch", "model": "resnet18", "batch": 128, "available": False, "config": "bf16:nchw:reduce-overhead",
                   "reason": "RuntimeError: a|b"}]
        doc, fp32, md = self.report(ours, theirs)
        rows = {(r["precision"], r["optimizer"]): r for r in doc["rows"]}
        self.assertEqual(rows[("bf16", "erm")]["pytorch_config"], "bf16:channels_last:default")
        self.assertAlmostEqual(rows[("bf16", "erm")]["sam4j_over_pytorch"], 0.8)
        self.assertEqual(rows[("bf16", "erm")]["pytorch_peak_mb"], 900.0)
        self.assertEqual(rows[("bf16", "sam")]["pytorch_config"], "bf16:nchw:none")  # per method: its own fastest
        self.assertEqual((rows[("bf16", "sam")]["sam4j_mb"], rows[("bf16", "sam")]["sam4j_memory"]), (300.0, "device"))
        self.assertAlmostEqual(rows[("fp32", "erm")]["sam4j_over_pytorch"], 0.8)
        t = {x["target"][:10]: x for x in doc["targets"]}
        self.assertTrue(t["ERM step, "]["met"])           # 0.8 <= 0.8
        self.assertFalse(t["SAM / ERM "]["met"])          # 9 / 4 = 2.25 > 2.02
        self.assertIsNone(t["AE-SAM ste"]["met"])
        self.assertIn("method not run", t["AE-SAM ste"]["why_not_measured"])
        self.assertIn("unavailable: RuntimeError: a/b", md)  # a reason cannot break the table
        self.assertEqual(sorted((l["impl"], l["optimizer"]) for l in fp32), [("pytorch", "erm"), ("sam4j", "erm")])

    def test_adaptive_methods_are_compared_at_sam4js_sam_fraction(self):
        ours = [line("sam4j", "cnn", "aesam", 3.0, sam_fraction=0.25)]
        theirs = [line("pytorch", "cnn", "aesam", 9.0, "fp32", "a", sam_fraction=0.9, median_erm_path_ms=2.0, median_sam_path_ms=6.0),
                  # its policy took no SAM step: that configuration's sam method stands in for the SAM path
                  line("pytorch", "cnn", "aesam", 1.0, "fp32", "b", sam_fraction=0.0, median_erm_path_ms=1.0, median_sam_path_ms=None),
                  line("pytorch", "cnn", "sam", 20.0, "fp32", "b")]
        doc, _, _ = self.report(ours, theirs)
        r = next(r for r in doc["rows"] if r["optimizer"] == "aesam")
        self.assertEqual(r["pytorch_config"], "a")  # 0.75*2 + 0.25*6 = 3.0 against 0.75*1 + 0.25*20 = 5.75
        self.assertAlmostEqual(r["pytorch_ms"], 3.0)
        self.assertTrue(r["pytorch_at_sam4j_fraction"])

    def test_sam4j_in_both_image_layouts_is_its_fastest_named_and_its_ratio_within_one(self):
        ours = [line("sam4j", "resnet18", "erm", 5.0, "tf32", image_layout="nchw"), line("sam4j", "resnet18", "erm", 4.0, "tf32", image_layout="nhwc"),
                line("sam4j", "resnet18", "sam", 9.0, "tf32", image_layout="nchw"), line("sam4j", "resnet18", "sam", 9.5, "tf32", image_layout="nhwc")]
        theirs = [line("pytorch", "resnet18", "erm", 4.0, "tf32", "tf32:channels_last:none"),
                  line("pytorch", "resnet18", "sam", 9.0, "tf32", "tf32:channels_last:none")]
        doc, _, md = self.report(ours, theirs)
        rows = {r["optimizer"]: r for r in doc["rows"]}
        self.assertEqual((rows["erm"]["sam4j_layout"], rows["erm"]["sam4j_mean_ms"]), ("nhwc", 4.0))
        self.assertEqual((rows["sam"]["sam4j_layout"], rows["sam"]["sam4j_mean_ms"]), ("nchw", 9.0))
        self.assertAlmostEqual(rows["sam"]["sam4j_vs_erm"], 9.0 / 5.0)  # against ERM in the same layout
        self.assertEqual(rows["erm"]["sam4j_ms_by_layout"], {"nchw": 5.0, "nhwc": 4.0})
        self.assertIn("`nhwc` (vs nchw 5.00)", md)

    def test_a_precision_sam4j_cannot_run_is_said_so(self):
        ours = [line("sam4j", "cnn", "erm", 3.0)]
        theirs = [line("pytorch", "cnn", "erm", 2.0, "bf16", "bf16:nchw:none")]
        doc, _, md = self.report(ours, theirs, missing=["bf16=this sam4j has no --precision"])
        r = next(r for r in doc["rows"] if r["precision"] == "bf16")
        self.assertEqual(r["sam4j_missing"], "this sam4j has no --precision")
        self.assertIn("| n/a † |", md)
        self.assertIn("† no sam4j line at bf16: this sam4j has no --precision", md)
        self.assertIn("not measured: no sam4j bf16 line (this sam4j has no --precision)", md)


if __name__ == "__main__":
    unittest.main()
