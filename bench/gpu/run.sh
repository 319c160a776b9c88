#!/usr/bin/env bash
# GPU measurements of issue 3 and issue 7, for a machine with an NVIDIA GPU, Python with torch and
# jax (the CUDA PJRT plugin that jax-cuda13-pjrt ships), and no Go: build the binary beforehand on a
# machine with Go (`make device-build` writes .device/binnet) and copy the repository there.
#
#   bash bench/gpu/run.sh [OUT_DIR]     # default $OUT or bench/gpu/results
#
# It records, one JSON line each, in OUT_DIR/gpu.jsonl:
#   - binnet (GoMLX on XLA/CUDA): ResNet-21 training step at 224x224, batch 128, binary and float;
#     binary MLPs 784-784-784-10 and 784-2048-2048-10 at batch 100 and 1000;
#   - PyTorch on the same GPU: ResNet-21 (bench/pytorch/cnn_bench.py --device cuda);
#   - JAX on the same plugin: the same binary MLPs (bench/pytorch/jax_mlp_bench.py).
# The ratios binnet/PyTorch and binnet/JAX come from the same run on the same device.
set -u
out=${1:-${OUT:-bench/gpu/results}}
mkdir -p "$out"
log="$out/gpu.jsonl"
py=${PYTHON:-$(command -v python3)}
sp=${SITE_PACKAGES:-$("$py" -c 'import site; print(site.getsitepackages()[0])')}
plugin=$(ls "$sp"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1)
if [ -z "$plugin" ]; then
  echo "no CUDA PJRT plugin under $sp/jax_plugins (pip install jax[cuda13])" >&2
  exit 1
fi
export GOMLX_BACKEND="xla:$plugin" GOMLX_NO_AUTO_INSTALL=1
export XLA_FLAGS="--xla_gpu_cuda_data_dir=$sp/nvidia"
export LD_LIBRARY_PATH="$(ls -d "$sp"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
bin=${BINNET:-.device/binnet}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
run() { echo "+ $*" >&2; "$@" | grep '^{' | tee -a "$log"; }
for mode in binary float; do
  run "$bin" speed -json -model resnet21 -image-size 224 -batch 128 -mode "$mode" -steps 20 -windows 5
  run "$py" bench/pytorch/cnn_bench.py --json --device cuda --model resnet21 --mode "$mode" --batch 128
done
for m in mlp-784-784; do
  for b in 100 1000; do
    run "$bin" speed -json -model "$m" -batch "$b" -mode binary -steps 200 -windows 5
  done
done
run "$py" bench/pytorch/jax_mlp_bench.py --model 784-784 2048-2048 --batch 100 1000 --mode binary
echo "results in $log" >&2
