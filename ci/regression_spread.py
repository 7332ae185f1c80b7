#!/usr/bin/env python3
"""Measures how far the regression run (ci/regression.toml [run]) moves when LibTorch, oneDNN, MKL
and glibc's libm take other kernel paths on this machine, and across seeds: the numbers the
tolerances and bands in ci/regression.toml are set from.

    ci/regression_spread.py [--seeds 31,32,33,34,35] [--early-only] [--bin build/bin]

Each setting runs ci/regression --only run once (about a minute each; --early-only
runs the early steps alone, seconds each) and the script prints, for the early steps, the largest
relative difference from the native run per setting, and for the epochs, kNN and prototype usage,
the range over every setting and seed. A setting the CPU cannot run (an instruction set it lacks)
is reported as skipped. Pure standard library: runs with any python3.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# name -> environment. "AVX machine" and "AVX2 machine" force every library at once to what a CPU
# with only that instruction set would run (except our own Sinkhorn's clones, which follow the
# CPU itself: see ci/regression.toml).
NO_FMA_LIBM = "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX512DQ"
SETTINGS = [
    ("native", {}),
    ("ATEN_CPU_CAPABILITY=default", {"ATEN_CPU_CAPABILITY": "default"}),
    ("ATEN_CPU_CAPABILITY=avx2", {"ATEN_CPU_CAPABILITY": "avx2"}),
    ("ONEDNN_MAX_CPU_ISA=AVX", {"ONEDNN_MAX_CPU_ISA": "AVX"}),
    ("ONEDNN_MAX_CPU_ISA=AVX2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    ("MKL_ENABLE_INSTRUCTIONS=AVX", {"MKL_ENABLE_INSTRUCTIONS": "AVX"}),
    ("MKL_CBWR=COMPATIBLE", {"MKL_CBWR": "COMPATIBLE"}),
    ("libm without FMA", {"GLIBC_TUNABLES": NO_FMA_LIBM}),
    ("AVX machine", {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX",
                     "MKL_ENABLE_INSTRUCTIONS": "AVX", "MKL_CBWR": "COMPATIBLE",
                     "GLIBC_TUNABLES": NO_FMA_LIBM}),
    ("AVX2 machine", {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                      "MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
]


def run(bin_dir, env_extra, args):
    env = dict(os.environ)
    env.update(env_extra)
    env["SWAV_BIN_DIR"] = bin_dir
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        # Through ci/regression, which skips (77) kernel paths this CPU lacks before they crash.
        proc = subprocess.run(["ci/regression", "--only", "run", "--json", out.name] + args, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode == 77:
            return None
        if proc.returncode not in (0, 1):
            sys.exit(f"regression_check failed ({proc.returncode}):\n{proc.stdout}")
        with open(out.name) as f:
            return json.load(f)


def rel(a, b):
    return abs(a - b) / abs(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="", help="comma-separated train.seed values to add")
    parser.add_argument("--early-only", action="store_true")
    parser.add_argument("--bin", default="build/bin")
    a = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    binary = os.path.abspath(a.bin)
    extra = ["--early-only"] if a.early_only else []

    results = {}
    for name, env in SETTINGS:
        r = run(binary, env, extra)
        results[name] = r
        if r is None:
            print(f"{name:<32} skipped (this CPU lacks an instruction set it needs)", flush=True)
            continue
        print(f"{name:<32} aten {r['kernels']['aten']:<8} steps {len(r['step_losses'])} "
              + ("" if a.early_only else
                 f"epochs {[round(x, 5) for x in r['epoch_losses']]} knn {r['knn']:.4f} "
                 f"(untrained {r['knn_init']:.4f}) usage {r['prototype_usage'][-1]:.3f}"),
              flush=True)
    native = results["native"]
    early = len(native["step_losses"])
    print("\nlargest relative difference from the native run over the first n steps:")
    ns = [n for n in (1, 2, 3, 5, 8, 10, 15, 20, 30, 40) if n <= early]
    print(f"{'setting':<32} " + " ".join(f"{'n=' + str(n):>8}" for n in ns))
    for name, r in results.items():
        if r is None or name == "native":
            continue
        diffs = [rel(x, y) for x, y in zip(r["step_losses"], native["step_losses"])]
        print(f"{name:<32} " + " ".join(f"{max(diffs[:n]):8.1e}" for n in ns))
    if a.early_only:
        return
    seeds = [s for s in a.seeds.split(",") if s]
    for seed in seeds:
        r = run(binary, {}, ["--set", f"train.seed={seed}"])
        results[f"seed {seed}"] = r
        print(f"seed {seed:<27} epochs {[round(x, 5) for x in r['epoch_losses']]} knn "
              f"{r['knn']:.4f} (untrained {r['knn_init']:.4f}) usage "
              f"{r['prototype_usage'][-1]:.3f}", flush=True)
    done = [r for r in results.values() if r is not None]
    print("\nrange over every setting and seed:")
    for e in range(len(native["epoch_losses"])):
        values = [r["epoch_losses"][e] for r in done]
        print(f"  epoch {e + 1} mean loss  {min(values):.5f} .. {max(values):.5f}")
    for key, label in (("knn", "kNN top-1"), ("knn_init", "kNN untrained")):
        values = [r[key] for r in done]
        print(f"  {label:<18} {min(values):.4f} .. {max(values):.4f}")
    gains = [r["knn"] - r["knn_init"] for r in done]
    print(f"  {'kNN gain':<18} {min(gains):+.4f} .. {max(gains):+.4f}")
    usage = [r["prototype_usage"][-1] for r in done]
    print(f"  {'usage, last epoch':<18} {min(usage):.3f} .. {max(usage):.3f}")


if __name__ == "__main__":
    main()
