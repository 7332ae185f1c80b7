#!/bin/bash
# One call on a GPU machine that reaches no package registry (see docs/GPU.md):
#   unpack the carried Debian packages (.deps, from ci/fetch-gpu-debs), configure and build Release
#   against the machine's Python torch, run the GPU-tagged tests and the benchmarks, print a table.
# Usage: ci/gpu_check.sh [--prebuilt BINDIR] [--no-bench] [--sanitize] [--out DIR]
#   --prebuilt BINDIR  use programs built elsewhere (same LibTorch) instead of building here
#   --sanitize         also run the CUDA Sinkhorn test under compute-sanitizer (memcheck: out-of-
#                      bounds and misaligned accesses; racecheck: shared-memory hazards, such as
#                      the block reductions' double buffer; synccheck: barriers), a few minutes
# Results (logs, benchmark JSON) go to --out (default $OUT, else gpu-check-out/).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
prebuilt="" bench=1 sanitize=0 out=${OUT:-$here/gpu-check-out}
while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) prebuilt=$2; shift ;;
    --no-bench) bench=0 ;;
    --sanitize) sanitize=1 ;;
    --out) out=$2; shift ;;
    *) echo "gpu_check.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
declare -a rows
row() { rows+=("$(printf '%-28s %s' "$1" "$2")"); }
t0=$(date +%s)

# 1. Dependencies: Debian packages unpacked under /opt/deps (never into /).
if [ -d .deps ] && [ ! -f /opt/deps/.unpacked ]; then
  mkdir -p /opt/deps
  for f in .deps/*.deb; do dpkg -x "$f" /opt/deps; done
  grep -rl '"/usr/' /opt/deps/usr/lib --include='*.cmake' 2>/dev/null | xargs -r sed -i 's|"/usr/|"/opt/deps/usr/|g'
  grep -rl '/usr/include' /opt/deps/usr/lib --include='*.cmake' 2>/dev/null \
    | xargs -r sed -i 's|\([^t]\)/usr/include|\1/opt/deps/usr/include|g'
  touch /opt/deps/.unpacked
fi
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib:$LD_LIBRARY_PATH
# The wheel's CUDA runtime (libcudart, libnvrtc): programs built on another machine (--prebuilt)
# link libcudart directly and find it here rather than in that machine's /usr/local/cuda.
for d in "$torch_lib"/../../nvidia/cu*/lib "$torch_lib"/../../nvidia/cuda_runtime/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=$(cd "$d" && pwd):$LD_LIBRARY_PATH
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
row "GPU" "$(head -1 "$out/gpu.txt")"
row "torch" "$(python3 -c 'import torch; print(torch.__version__)')"

# 2. Build (Release, ninja, all cores) unless programs were carried.
if [ -z "$prebuilt" ]; then
  b0=$(date +%s)
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DTORCH_CUDA_ARCH_LIST=9.0 \
        -DCMAKE_PREFIX_PATH="$torch_prefix;/opt/deps/usr" >"$out/configure.log" 2>&1 \
    && cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1
  status=$?
  row "build" "$([ $status = 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - b0 )) s"
  if [ $status != 0 ]; then tail -n 40 "$out/configure.log" "$out/build.log"; printf '%s\n' "${rows[@]}"; exit 1; fi
  bin=build-gpu/bin
else
  bin=$prebuilt
fi

# 3. GPU-tagged tests (and the whole unit suite: the CUDA build must not change CPU results).
"$bin/swav_tests" "[gpu]" -s --durations yes >"$out/gpu_tests.log" 2>&1
gs=$?
row "GPU tests" "$([ $gs = 0 ] && echo passed || echo FAILED): $(tail -n 2 "$out/gpu_tests.log" | tr -s '\n' ' ')"
SWAV_TEST_THREADS=1 "$bin/swav_tests" "~[gpu]~[slow]~[.]" >"$out/unit_tests.log" 2>&1
us=$?
row "CPU unit tests" "$([ $us = 0 ] && echo passed || echo FAILED): $(tail -n 2 "$out/unit_tests.log" | tr -s '\n' ' ')"

# 4. compute-sanitizer on the kernels' correctness test (each tool exits non-zero on a finding).
ss=0
if [ $sanitize = 1 ]; then
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  for tool in memcheck racecheck synccheck; do
    timeout 300 "$sanitizer" --tool $tool --error-exitcode 3 \
      "$bin/swav_tests" "fused CUDA sinkhorn agrees with the CPU reference" >"$out/sanitize_$tool.log" 2>&1
    st=$?
    row "sanitizer $tool" "$([ $st = 0 ] && echo clean || echo "FAILED (exit $st)"): $(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitize_$tool.log")"
    [ $st = 0 ] || ss=1
  done
fi

# 5. Benchmarks.
if [ $bench = 1 ]; then
  "$bin/bench_sinkhorn" --benchmark_filter='Cuda' --benchmark_min_time=0.2 \
     --benchmark_out="$out/bench_sinkhorn.json" --benchmark_out_format=json >"$out/bench_sinkhorn.txt" 2>&1
  row "bench_sinkhorn" "exit $? (table below)"
  timeout 300 "$bin/bench_train_step" --steps 20 >"$out/bench_train_step.txt" 2>&1
  row "bench_train_step" "exit $? (table below)"
fi
row "wall" "$(( $(date +%s) - t0 )) s"

echo; echo "== gpu_check summary =="; printf '%s\n' "${rows[@]}"
if [ $bench = 1 ]; then
  grep -E '^BM_|^-|Benchmark' "$out/bench_sinkhorn.txt"
  cat "$out/bench_train_step.txt"
fi
[ $gs = 0 ] || tail -60 "$out/gpu_tests.log"
exit $(( gs != 0 || us != 0 || ss != 0 ))
