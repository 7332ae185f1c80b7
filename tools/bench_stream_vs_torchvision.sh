#!/usr/bin/env bash
# tools/bench_stream_vs_torchvision.sh [FOLDER] [IMAGES]
# The streaming path's multi-crop (build/bin/bench_stream) beside torchvision's DataLoader
# (tools/bench_torchvision_multicrop.py) on the same files and cores: the paper's 2 x 224 + 6 x 96
# views, with 1 worker and with every core. FOLDER defaults to a folder of ImageNet-sized photos
# made by tools/make_photo_folder.py in /tmp/swav-bench-photos (1 040 training images).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${SWAV_BENCH_VENV:-$HOME/.cache/swav-bench/torch-2.11.0}/bin/python
folder=${1:-}
images=${2:-1024}
if [ -z "$folder" ]; then
  root=/tmp/swav-bench-photos
  [ -d "$root/train" ] || "$python" tools/make_photo_folder.py "$root" --per-class 80 --val-per-class 0
  folder=$root/train
fi
cores=$(nproc)
rate() { sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' | head -n 1; }
printf '| workers | ours (images/s) | torchvision (images/s) | ratio |\n|--:|--:|--:|--:|\n'
for workers in 1 "$cores"; do
  ours=$(build/bin/bench_stream "$folder" --workers "$workers" --images "$images" | rate)
  theirs=$("$python" tools/bench_torchvision_multicrop.py "$folder" --workers "$workers" \
           --images "$images" | rate)
  awk -v w="$workers" -v a="$ours" -v b="$theirs" \
    'BEGIN { printf "| %s | %s | %s | %.1fx |\n", w, a, b, a / b }'
done
echo
build/bin/bench_stream "$folder" --workers 1 --images 256 | tail -n 1
