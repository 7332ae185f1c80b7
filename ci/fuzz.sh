#!/usr/bin/env bash
# ci/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]
# Builds the `sanitize` preset (clang, ASan + UBSan, libFuzzer) and fuzzes each target (default:
# all of fuzz/CMakeLists.txt's) for SECONDS_PER_TARGET (default 60), after replaying its
# fuzz/regressions inputs. The corpus each run grows is kept in build-sanitize/fuzz-out/<target>/,
# so later runs start from it; a crashing input is left in build-sanitize/fuzz-out/<target>/crashes/.
# Exits 1 when any target crashed. Example: ci/fuzz.sh 3600 config image   (an hour each)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config idx cifar image image_cache checkpoint)
ci/setup.sh --sanitize
SWAV_TORCH_PREFIX="$(ci/setup.sh --torch-prefix | tail -n 1)"
export SWAV_TORCH_PREFIX
[ -f build-sanitize/build.ninja ] || cmake --preset sanitize
cmake --build --preset sanitize --target "${targets[@]/#/fuzz_}"
status=0
for t in "${targets[@]}"; do
  if ! fuzz/run_fuzz.sh "build-sanitize/bin/fuzz_$t" "$t" "$seconds" "build-sanitize/fuzz-out/$t"; then
    echo "ci/fuzz.sh: fuzz_$t crashed; its input is in build-sanitize/fuzz-out/$t/crashes/" >&2
    status=1
  fi
done
exit $status
