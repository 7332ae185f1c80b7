#!/usr/bin/env bash
# run_fuzz.sh BINARY NAME SECONDS [OUT_DIR]
# Replays fuzz/regressions/NAME/* (each must pass), then fuzzes NAME for SECONDS from its seed corpus
# (fuzz/corpus/NAME, never modified: new inputs go to a scratch corpus). A crash leaves its input in
# OUT_DIR (default: a scratch folder, printed) and exits non-zero; copy it into fuzz/regressions/NAME/
# once fixed so it is replayed for ever.
set -euo pipefail
bin=$1 name=$2 seconds=$3
here=$(cd "$(dirname "$0")" && pwd)
out=${4:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz_${name}.XXXXXX")}
mkdir -p "$out/corpus" "$out/crashes"
# LibTorch allocates registries at start-up that it never frees: leak reports would be its, not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if compgen -G "$here/regressions/$name/*" > /dev/null; then
  echo "replaying $(ls "$here/regressions/$name" | wc -l) regression input(s) of $name"
  "$bin" -runs=1 "$here"/regressions/"$name"/*
fi
echo "fuzzing $name for ${seconds}s (scratch corpus and crashes in $out)"
# -close_fd_mask=2: the readers' warnings on stderr would drown the fuzzer's own lines.
"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=6144 -close_fd_mask=2 \
  -artifact_prefix="$out/crashes/" -print_final_stats=1 "$out/corpus" "$here/corpus/$name"
