#!/usr/bin/env bash
# Runs the MNIST experiments behind docs/results.md.
#
#   docs/results/run.sh LANE RUNS_DIR MNIST_DIR
#
# LANE a: mlp-300-100, reduced protocol (5 epochs per layer, 20 epochs: 3 stages of 5, then 5 more
#         all-binary), seeds 1-3: sensitivity pre-training (5 epochs per layer), float, binary,
#         all 6 permutations (ascend and descend are two of them).
# LANE b: mlp-300-100, the paper's full protocol (150 epochs per layer, 450 epochs), seeds $SEEDS
#         (default 1): $ORDERS (default float forward binary reverse).
# LANE f: mlp-300-100, the paper's full protocol (450 epochs, 150 per layer), seeds $SEEDS (default 1): the
#         four permutations lane b leaves out ($PERMS, default 1,3,2 2,1,3 2,3,1 3,1,2), after a
#         sensitivity pre-training of 10 epochs per layer per seed that names the guided orders among
#         the six (run two of these lanes side by side with PERMS split, one thread each: THREADS=1).
# LANE c: mlp-784-784, reduced protocol, seeds $SEEDS (default 1).
# LANE m: mlp-784-784, the paper's full protocol (450 epochs, 150 per layer), seeds $SEEDS (default 1):
#         $ORDERS (default forward binary reverse; ~45 minutes per run on one thread here, so run two
#         of these lanes side by side with THREADS=1), each with -test-each-epoch (the official code's
#         full-training scripts test after every epoch and print the best test accuracy).
# LANE n: mlp-784-784, the paper's full protocol as lane m, seeds $SEEDS (default 1): a sensitivity
#         pre-training of 10 epochs per layer, then the guided orders it names ($GUIDED, default ascend
#         descend), each run under lane m's name for it (forward for 1,2,3, reverse for 3,2,1, else the
#         permutation), so that a guided order lane m already ran is not run twice; then float unless
#         NOFLOAT is set.
# LANE p: mlp-300-100, float, binary and forward with 10 epochs per layer and 40 epochs, seed 1: the
#         protocol of the PyTorch reference runs (bench/pytorch/REFERENCE.md).
# LANE q: mlp-784-784, float and binary, 40 epochs, seed 1 (the PyTorch reference protocol).
# LANE s: mlp-300-100, sensitivity pre-training with 10 epochs per layer, seed 1.
# LANE v: vgg5 on real MNIST padded to 32x32x3 (no CIFAR-10 on this machine), 1 epoch per layer,
#         6 epochs, seeds $SEEDS (default 1): sensitivity pre-training on the first 5,000 training images (2 epochs per
#         layer, the last 5,000 for validation), then float, binary, forward, ascend (guided), reverse
#         and descend on
#         the first 2,000 training images, the last 2,000 for validation and the first 5,000 test
#         images (the machine is shared: this keeps the lane under an hour). Adam at lr 0.01 (the
#         preset now has the official README's 0.1; these runs were made at 0.01).
# LANE w: vgg5 on real Fashion-MNIST padded to 32x32x3 (pass the Fashion-MNIST folder as MNIST_DIR),
#         2 epochs per layer, 12 epochs (5 stages of 2, then 2 more all-binary), seeds $SEEDS (default
#         1): sensitivity pre-training (2 epochs per layer) on the same data, then float, binary,
#         forward, reverse, ascend (guided) and descend on the first 10,000 training images, the last
#         5,000 for validation and the 10,000 test images; Adam at lr 0.01 as lane v (~35 minutes per
#         seed on 2 threads here with the Winograd convolutions; THREADS=1 to run two seeds side by side).
# LANE r: resnet20 on the same data with the first 2,500 training images and the last 1,000 for
#         validation, 4 layers per stage (5 stages of 1 epoch), 6 epochs, seeds $SEEDS (default 1):
#         float, binary, forward, reverse.
# LANE g: resnet20, guided orders for lane r, seeds $SEEDS (default 1): sensitivity pre-training on
#         the same 2,500 training and 1,000 validation images with 3 epochs per layer (60 SGD steps:
#         batch norm's running statistics need ~40 to settle), then ascend and descend as lane r's runs.
# RESET=1 adds -official-eval-reset to the MLP lanes' runs and to the sensitivity pre-trainings of
# lanes a and f (the official code's evaluation side effect: binary layers' latent weights set to
# sign(w) after every epoch); give those lanes a RUNS_DIR of their own. SEEDS picks lane a's seeds
# too (default 1 2 3).
# Every run resumes from its checkpoint when re-run; finished runs are skipped.
set -euo pipefail
lane=$1 runs=$2 mnist=$3
bin=${BINNET:-bin/binnet}
export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
perms="1,2,3 1,3,2 2,1,3 2,3,1 3,1,2 3,2,1"
train() { # model order epochs epl seed
  local out="$runs/$1/e$3-l$4/$(echo "$2" | tr , -)-seed$5"
  "$bin" train -quiet -model "$1" -data-dir "$mnist" -order "$2" -epochs "$3" -epochs-per-layer "$4" -seed "$5" -out "$out" ${THREADS:+-threads $THREADS} ${TEST_EACH:+-test-each-epoch} \
    ${RESET:+-official-eval-reset}
}
reduced() { # model seed
  local out="$runs/$1/sensitivity-e5-seed$2"
  [ -f "$out/sensitivity.json" ] || "$bin" sensitivity -quiet -model "$1" -data-dir "$mnist" -epochs 5 -seed "$2" -out "$out" \
    ${THREADS:+-threads $THREADS} ${RESET:+-official-eval-reset}
  for o in float binary $perms; do train "$1" "$o" 20 5 "$2"; done
}
conv() { # model order epochs epl lps seed ntrain nval ntest [sensitivity-ntrain]
  local ds=${DATASET:-mnist}
  local out="$runs/$1-${ds}32/n$7-e$3-l$4-s$5/$(echo "$2" | tr , -)-seed$6"
  local extra=()
  case $2 in ascend|descend) extra=(-sensitivity "$runs/$1-${ds}32/sensitivity-n${10:-$7}-e${SENS_EPOCHS:-2}-seed$6/sensitivity.json") ;; esac
  "$bin" train -quiet -model "$1" -dataset "$ds" -data-dir "$mnist" -train-size "$7" -val-size "$8" -test-size "$9" \
    -order "$2" -epochs "$3" -epochs-per-layer "$4" -layers-per-stage "$5" -seed "$6" -out "$out" "${extra[@]}" ${LR:+-lr $LR} \
    ${THREADS:+-threads $THREADS}
}
case $lane in
  a) for s in ${SEEDS:-1 2 3}; do reduced mlp-300-100 $s; done ;;
  b) for s in ${SEEDS:-1}; do for o in ${ORDERS:-float forward binary reverse}; do train mlp-300-100 $o 450 150 $s; done; done ;;
  c) for s in ${SEEDS:-1}; do reduced mlp-784-784 $s; done ;;
  m) export TEST_EACH=1
     for s in ${SEEDS:-1}; do for o in ${ORDERS:-forward binary reverse}; do train mlp-784-784 $o 450 150 $s; done; done ;;
  f) for s in ${SEEDS:-1}; do
       out="$runs/mlp-300-100/sensitivity-e10-seed$s"
       [ -f "$out/sensitivity.json" ] || "$bin" sensitivity -quiet -model mlp-300-100 -data-dir "$mnist" -epochs 10 -seed "$s" -out "$out" ${THREADS:+-threads $THREADS} \
         ${RESET:+-official-eval-reset}
       for o in ${PERMS:-1,3,2 2,1,3 2,3,1 3,1,2}; do train mlp-300-100 "$o" 450 150 "$s"; done
     done ;;
  n) export TEST_EACH=1
     for s in ${SEEDS:-1}; do
       out="$runs/mlp-784-784/sensitivity-e10-seed$s"
       [ -f "$out/sensitivity.json" ] || "$bin" sensitivity -quiet -model mlp-784-784 -data-dir "$mnist" -epochs 10 -seed "$s" -out "$out" ${THREADS:+-threads $THREADS}
       for gd in ${GUIDED:-ascend descend}; do
         perm=$(python3 -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['order_$gd'])))" "$out/sensitivity.json")
         case $perm in 1,2,3) perm=forward ;; 3,2,1) perm=reverse ;; esac
         train mlp-784-784 "$perm" 450 150 "$s"
       done
       [ -n "${NOFLOAT:-}" ] || train mlp-784-784 float 450 150 "$s"
     done ;;
  p) for o in float binary 1,2,3; do train mlp-300-100 $o 40 10 1; done ;;
  q) for o in float binary; do train mlp-784-784 $o 40 10 1; done ;;
  s) "$bin" sensitivity -quiet -model mlp-300-100 -data-dir "$mnist" -epochs 10 -seed 1 -out "$runs/mlp-300-100/sensitivity-e10-seed1" ;;
  v) LR=0.01
     for s in ${SEEDS:-1}; do
       "$bin" sensitivity -quiet -model vgg5 -dataset mnist -data-dir "$mnist" -train-size 5000 -epochs 2 -seed $s -lr $LR \
         -out "$runs/vgg5-mnist32/sensitivity-n5000-e2-seed$s"
       for o in float binary forward ascend reverse descend; do conv vgg5 $o 6 1 1 $s 2000 2000 5000 5000; done
     done ;;
  w) LR=0.01 DATASET=fashion-mnist
     for s in ${SEEDS:-1}; do
       out="$runs/vgg5-${DATASET}32/sensitivity-n10000-e2-seed$s"
       [ -f "$out/sensitivity.json" ] || "$bin" sensitivity -quiet -model vgg5 -dataset $DATASET -data-dir "$mnist" -train-size 10000 \
         -val-size 5000 -epochs 2 -seed $s -lr $LR -out "$out" ${THREADS:+-threads $THREADS}
       for o in float binary forward reverse ascend descend; do conv vgg5 $o 12 2 1 $s 10000 5000 10000; done
     done ;;
  r) for s in ${SEEDS:-1}; do for o in float binary forward reverse; do conv resnet20 $o 6 1 4 $s 2500 1000 10000; done; done ;;
  g) export SENS_EPOCHS=3
     for s in ${SEEDS:-1}; do
       out="$runs/resnet20-mnist32/sensitivity-n2500-e3-seed$s"
       [ -f "$out/sensitivity.json" ] || "$bin" sensitivity -quiet -model resnet20 -dataset mnist -data-dir "$mnist" -train-size 2500 \
         -val-size 1000 -epochs 3 -seed $s -out "$out" ${THREADS:+-threads $THREADS}
       for o in ascend descend; do conv resnet20 $o 6 1 4 $s 2500 1000 10000; done
     done ;;
  *) echo "unknown lane $lane" >&2; exit 2 ;;
esac
