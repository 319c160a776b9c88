#!/bin/bash
# Runs the reference set sequentially with one thread; results in results/.
# Usage: bench/pytorch/run_reference.sh [models...]   (default: 300-100 784-784)
# Environment: EPOCHS (40), EPL epochs per layer (10), SEED (1), ORDERS ("float binary forward").
set -euo pipefail
cd "$(dirname "$0")"
export OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
PY=/usr/bin/python3
EPOCHS=${EPOCHS:-40}
EPL=${EPL:-10}
SEED=${SEED:-1}
ORDERS=${ORDERS:-float binary forward}
mkdir -p results
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(300-100 784-784)
for m in "${models[@]}"; do
  for o in $ORDERS; do
    name=results/mnist-$m-$o-e$EPOCHS-s$SEED
    $PY mlp_mnist.py --dataset mnist --model $m --order $o --epochs $EPOCHS \
        --epochs-per-layer $EPL --seed $SEED --lr 0.1 --threads 1 \
        --out $name.json 2>&1 | tee $name.log
  done
done
