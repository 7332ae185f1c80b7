#!/usr/bin/env bash
# Installs what swav-bench needs on Debian 12, doing nothing that is already done:
#   - the Debian packages listed below (C++ libraries, build tools, Fashion-MNIST);
#   - LibTorch, as the PyPI `torch` wheel in a virtual environment outside the clone
#     ($SWAV_BENCH_VENV, default ~/.cache/swav-bench/torch-$TORCH_VERSION), shared by every clone.
# Prints nothing but errors unless something is installed.
#   ci/setup.sh                 install what is missing
#   ci/setup.sh --torch-prefix  also print the CMake prefix of the installed LibTorch (last line)
#   ci/setup.sh --sanitize      also install clang and its sanitizer/libFuzzer runtimes (make sanitize)
set -euo pipefail

TORCH_VERSION=${SWAV_BENCH_TORCH_VERSION:-2.11.0}
VENV=${SWAV_BENCH_VENV:-$HOME/.cache/swav-bench/torch-$TORCH_VERSION}

# Keep this list in step with the README's dependency table and ci/fetch-gpu-debs.
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv
  libtomlplusplus-dev libsqlitecpp-dev libsqlite3-dev sqlite3 libfmt-dev
  catch2 nlohmann-json3-dev libbenchmark-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev libgloo-dev libssl-dev
  dataset-fashion-mnist mate-backgrounds
)
# Only `make sanitize` and `make fuzz` use clang; `make test` does not install it.
for arg in "$@"; do
  [ "$arg" = "--sanitize" ] && PACKAGES+=(clang libclang-rt-14-dev)
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

py="$VENV/bin/python"
# Reads the installed version from the package metadata: importing torch would take seconds.
if ! "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch').split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $VENV (once per machine; a few GB)" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION" >&2
fi
# torchvision, for the tests that compare our multi-crop with its transforms (tests/python): the
# release built against this torch.
TORCHVISION_VERSION=${SWAV_BENCH_TORCHVISION_VERSION:-0.26.0}
if ! "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('torchvision').split('+')[0] != '$TORCHVISION_VERSION')" 2>/dev/null; then
  echo "setup: installing torchvision==$TORCHVISION_VERSION into $VENV" >&2
  "$VENV/bin/pip" install -q "torchvision==$TORCHVISION_VERSION" "torch==$TORCH_VERSION" >&2
fi

if [ "${1:-}" = "--torch-prefix" ]; then
  # The same path as torch.utils.cmake_prefix_path, found without importing torch.
  "$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torch").origin), "share", "cmake"))'
fi
