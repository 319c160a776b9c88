#!/bin/sh
# Runs cnn_bench.py over the CPU grid (cnn, vgg5, resnet20; float and binary;
# 1 and 2 threads) plus a resnet21 smoke test, appending JSON lines to
# bench/pytorch/results/cnn_bench.jsonl (OUT overrides). Run from anywhere.
#   MODELS="cnn vgg5 resnet20" THREADS="1 2" CNN_BENCH_ARGS="--windows 7" sh bench/pytorch/run_cnn_bench.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/results/cnn_bench.jsonl}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE_PEER:-SkylakeX}
py=/usr/bin/python3
mkdir -p "$(dirname "$out")"
for model in ${MODELS:-cnn vgg5 resnet20}; do
  for mode in float binary; do
    for t in ${THREADS:-1 2}; do
      nice -n 19 $py "$here/cnn_bench.py" --model "$model" --mode "$mode" --threads "$t" --json ${CNN_BENCH_ARGS:-} | tee -a "$out"
    done
  done
done
if [ -z "${SKIP_RESNET21:-}" ]; then
  # ImageNet ResNet-18 (binary, 21 layers): slow on the CPU, smoke test only.
  nice -n 19 $py "$here/cnn_bench.py" --model resnet21 --mode binary --batch 8 --threads 2 \
      --warmup 2 --windows 3 --steps 3 --min-window-seconds 0 --json | tee -a "$out"
fi
