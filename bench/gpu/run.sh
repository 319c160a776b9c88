#!/usr/bin/env bash
# GPU measurements of issue 3 and issue 7, for a machine with an NVIDIA GPU, Python with torch and
# jax (the CUDA PJRT plugin that jax-cuda13-pjrt ships), and no Go: build the binary beforehand on a
# machine with Go (`make device-build` writes .device/binnet) and copy the repository there.
#
#   bash bench/gpu/run.sh [OUT_DIR]     # default $OUT or bench/gpu/results
#
# It records, one JSON line each, in OUT_DIR/gpu.jsonl, every command under a time limit (one that
# fails or hangs is reported in OUT_DIR/gpu.log and the rest still runs):
#   - binnet (GoMLX on XLA/CUDA): binary MLPs mlp-300-100 and mlp-784-784 at batch 100 and 1000,
#     one step per execution and ten (-steps-per-call 10);
#   - JAX on the same plugin: the same binary MLPs (bench/pytorch/jax_mlp_bench.py), one dispatch
#     per step and ten (--scan 10);
#   - binnet and PyTorch on the same GPU: ResNet-21 training step at 224x224, batch 128, binary and
#     float; binary VGG-5 and the small CNN at batch 100; on a machine with several GPUs first
#     ResNet-21 split over all of them (speed -devices N, batch 128 per GPU);
#   - a CPU profile of binnet's mlp-784-784 batch-100 step (OUT_DIR/mlp-step.prof) and the HLO that
#     XLA compiled for it and for JAX's step (OUT_DIR/hlo.tar.gz), to see where the time goes;
#   - short training runs on the embedded MNIST sample, one step per call and ten, to check the
#     accuracy and time the epochs on XLA (OUT_DIR/train-steps-per-call-*.json).
#   - first (section loop): the binary MLP steps with -steps-loop (the steps of a call as a While
#     loop in the graph, one step compiled) at 10 and 100 steps per call against JAX's lax.scan of
#     10 and 100, a short training run with it, to compare with the unrolled run's accuracy, and
#     the HLO XLA compiled for it (OUT_DIR/hlo-loop.tar.gz);
#   - section tests: the training package's tests of the step's other forms on this backend
#     (the test binary that `make device-build` writes as .device/training.test): the While loop
#     and the unrolled steps against single steps, and a step sharded over all the devices
#     (data parallel, -devices) against the plain step;
#   - section plain: one step per call, binnet against JAX's plain loop (one jitted step per
#     dispatch), the four binary MLP workloads;
# SECTIONS="mlp train" (say) runs only those parts: loop, tests, plain, mlp, profile, unrolled,
# cmdbuf, conv, train.
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
export GOMLX_BACKEND="xla:$plugin" GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0 # the plugin finds its libraries through LD_LIBRARY_PATH
export XLA_FLAGS="--xla_gpu_cuda_data_dir=$sp/nvidia"
export LD_LIBRARY_PATH="$(ls -d "$sp"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1
bin=${BINNET:-.device/binnet}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
  "$py" -c 'import torch, jax; print("torch", torch.__version__, "jax", jax.__version__)'
  nproc
} 2>&1 | tee "$out/gpu.txt"
# run LIMIT CMD...: runs CMD under a time limit; its JSON lines go to the log, the rest to gpu.log.
# With DEADLINE=S, a command that would start after S seconds of this script is skipped (and
# said so in gpu.log), to keep inside a lease of device time.
run() {
  local limit=$1
  shift
  if [ -n "${DEADLINE:-}" ] && [ "$SECONDS" -ge "$DEADLINE" ]; then
    echo "- skipped at ${SECONDS} s (DEADLINE=$DEADLINE): $*" | tee -a "$out/gpu.log" >&2
    return
  fi
  echo "+ [${SECONDS} s] $*" >>"$out/gpu.log"
  timeout -k 5 "$limit" "$@" 2>>"$out/gpu.log" | tee -a "$out/gpu.log" | grep '^{' | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "! rc $rc: $*" | tee -a "$out/gpu.log" >&2
}
# dump_hlo NAME K STEPS [FLAG...]: the HLO and thunks XLA compiles for binnet's binary mlp-784-784
# step at batch 100 with K steps per call (STEPS steps in all; FLAGs added to binnet speed, e.g.
# -steps-loop) and for JAX's with K steps per dispatch, in OUT_DIR/NAME.tar.gz.
dump_hlo() {
  (
    base=$XLA_FLAGS
    export XLA_FLAGS="$base --xla_dump_to=/tmp/$1/binnet --xla_dump_hlo_as_text"
    run 60 "$bin" speed -json -model mlp-784-784 -batch 100 -mode binary -steps "$3" -windows 1 -steps-per-call "$2" "${@:4}"
    export XLA_FLAGS="$base --xla_dump_to=/tmp/$1/jax --xla_dump_hlo_as_text"
    run 60 "$py" bench/pytorch/jax_mlp_bench.py --model 784-784 --batch 100 --mode binary --scan "$2" \
      --windows 1 --min-window-seconds 0.1 --warmup 2
  )
  tar -C /tmp -czf "$out/$1.tar.gz" "$1" 2>/dev/null
}
# SECTIONS picks what runs (default all): loop, tests, plain, mlp, profile, unrolled, cmdbuf, conv, train.
sections=" ${SECTIONS:-loop tests plain mlp profile unrolled cmdbuf conv train} "
if [[ $sections == *" loop "* ]]; then
  # -steps-loop: a call's steps as a While loop whose body is one step (compiled once, whatever the
  # number of steps), the form of JAX's lax.scan. Most wanted first (a session's device time is
  # short): the loop's steps, JAX's scans, then a training run, the HLO, and one unrolled run as
  # the anchor to earlier measurements (its 10-step graph compiles in 15-23 s).
  for m in mlp-300-100 mlp-784-784; do
    for b in 100 1000; do
      for k in 10 100; do
        run 60 "$bin" speed -json -model "$m" -batch "$b" -mode binary -steps 400 -windows 5 -steps-per-call $k -steps-loop
      done
    done
  done
  for k in 10 100; do
    run 120 "$py" bench/pytorch/jax_mlp_bench.py --model 300-100 784-784 --batch 100 1000 --mode binary \
      --windows 5 --min-window-seconds 0.5 --scan $k
  done
  run 120 "$bin" train -model mlp-300-100 -epochs 10 -epochs-per-layer 2 -order forward -steps-per-call 10 -steps-loop \
    -out /tmp/train-xla-loop
  cp /tmp/train-xla-loop/results.json "$out/train-steps-loop-10.json" 2>/dev/null
  dump_hlo hlo-loop 10 20 -steps-loop # the loop's HLO and thunks against JAX's scan of 10
  run 90 "$bin" speed -json -model mlp-784-784 -batch 100 -mode binary -steps 200 -windows 5 -steps-per-call 10
fi
if [[ $sections == *" tests "* ]]; then
  # The loop and the unrolled steps against single steps, the sharded step against the plain one:
  # on XLA within closeTolerance (binnet/training's tests; bit for bit only on the pure-Go backend).
  run 240 "${TESTBIN:-.device/training.test}" -test.v -test.count 1 \
    -test.run 'TestLoopStepsMatchSingleSteps|TestLoopStepsConvNet|TestUnrolledStepsMatchSingleSteps|TestDataParallelMatchesPlainSteps'
fi
if [[ $sections == *" plain "* ]]; then
  for m in mlp-300-100 mlp-784-784; do
    for b in 100 1000; do
      run 60 "$bin" speed -json -model "$m" -batch "$b" -mode binary -steps 200 -windows 5
    done
  done
  run 120 "$py" bench/pytorch/jax_mlp_bench.py --model 300-100 784-784 --batch 100 1000 --mode binary \
    --windows 5 --min-window-seconds 0.5
fi
if [[ $sections == *" mlp "* ]]; then
  # binnet one step per execution (as a plain training loop) and ten (-steps-per-call 10: the steps
  # unrolled in one graph, one host round trip per ten steps); JAX one dispatch per step and ten
  # steps per dispatch (lax.scan).
  for m in mlp-300-100 mlp-784-784; do
    for b in 100 1000; do
      for k in 1 10; do
        run 90 "$bin" speed -json -model "$m" -batch "$b" -mode binary -steps 200 -windows 5 -steps-per-call $k
      done
    done
  done
  run 120 "$py" bench/pytorch/jax_mlp_bench.py --model 300-100 784-784 --batch 100 1000 --mode binary \
    --windows 5 --min-window-seconds 0.5
  run 120 "$py" bench/pytorch/jax_mlp_bench.py --model 300-100 784-784 --batch 100 1000 --mode binary \
    --windows 5 --min-window-seconds 0.5 --scan 10
fi
if [[ $sections == *" profile "* ]]; then
  run 60 "$bin" speed -json -model mlp-784-784 -batch 100 -mode float -steps 200 -windows 5
  run 60 "$py" bench/pytorch/jax_mlp_bench.py --model 784-784 --batch 100 --mode float \
    --windows 5 --min-window-seconds 0.5
  run 60 "$bin" speed -json -model mlp-784-784 -batch 100 -mode binary -steps 500 -windows 3 \
    -cpuprofile "$out/mlp-step.prof"
  dump_hlo hlo 1 5
fi
if [[ $sections == *" unrolled "* ]]; then
  # Where an unrolled step's time goes: 30 steps per call, and the HLO and thunks XLA made of ten
  # unrolled steps and of JAX's ten scanned steps (OUT_DIR/hlo-unrolled.tar.gz).
  for m in mlp-300-100 mlp-784-784; do
    run 90 "$bin" speed -json -model "$m" -batch 100 -mode binary -steps 300 -windows 3 -steps-per-call 30
  done
  dump_hlo hlo-unrolled 10 20
fi
if [[ $sections == *" cmdbuf "* ]]; then
  # The same MLP steps with XLA's command buffers (CUDA graphs) off: whether updating a graph of
  # ~520 kernels at every call is what makes an unrolled step cost more device time than JAX's.
  (
    export XLA_FLAGS="$XLA_FLAGS --xla_gpu_enable_command_buffer="
    run 60 "$bin" speed -json -model mlp-784-784 -batch 100 -mode binary -steps 400 -windows 5 -steps-per-call 10 -steps-loop
    for k in 1 10; do
      run 90 "$bin" speed -json -model mlp-784-784 -batch 100 -mode binary -steps 200 -windows 5 -steps-per-call $k
    done
    run 60 "$py" bench/pytorch/jax_mlp_bench.py --model 784-784 --batch 100 --mode binary \
      --windows 5 --min-window-seconds 0.5 --scan 10
  )
fi
if [[ $sections == *" conv "* ]]; then
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  if [ "$ngpu" -gt 1 ]; then
    # Data parallel (-devices): batch 128 per GPU, against one GPU's 128 below (weak scaling).
    run 240 "$bin" speed -json -model resnet21 -image-size 224 -batch $((128 * ngpu)) -devices "$ngpu" -mode binary -steps 10 -windows 3
  fi
  for mode in binary float; do
    run 150 "$bin" speed -json -model resnet21 -image-size 224 -batch 128 -mode "$mode" -steps 10 -windows 3
    run 90 "$py" bench/pytorch/cnn_bench.py --json --device cuda --model resnet21 --mode "$mode" --batch 128 \
      --windows 3 --min-window-seconds 0.5
  done
  for m in vgg5 cnn; do
    run 60 "$bin" speed -json -model "$m" -batch 100 -mode binary -steps 50 -windows 5
    run 60 "$py" bench/pytorch/cnn_bench.py --json --device cuda --model "$m" --mode binary --batch 100 \
      --windows 5 --min-window-seconds 0.5
  done
fi
if [[ $sections == *" train "* ]]; then
  # End to end on the embedded MNIST sample (90 batches per epoch): one step per call, then ten.
  for k in 1 10; do
    run 120 "$bin" train -model mlp-300-100 -epochs 10 -epochs-per-layer 2 -order forward -steps-per-call $k \
      -out /tmp/train-xla-$k
    cp /tmp/train-xla-$k/results.json "$out/train-steps-per-call-$k.json" 2>/dev/null
  done
fi
echo "results in $log" >&2
