#!/usr/bin/python3
"""PyTorch reference ("peer") for binnet: 3-layer MLPs trained with
iterative layer binarization (Lan 2021, arXiv 2111.07046).

Follows the official code (github.com/rakutentech/iterative_training:
models/mlp3.py, models/binary_control.py, models/layercontrol.py, train.py,
util/dataset.py), with the differences listed in README.md:

  * sign(0) = +1 (binnet's convention; the official code uses torch.sign);
  * identity straight-through estimator written as an autograd Function
    (the official code binarizes the weight tensor in place, takes the
    gradient w.r.t. the binary weight and applies it to the restored float
    weight: the same update);
  * evaluation does NOT reproduce the official test_epoch() side effect that
    overwrites the latent weights with their binarized copy unless
    --official-eval-quirk is given (see README.md).

Usage (see README.md):
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch/mlp_mnist.py \
      --model 300-100 --order forward --epochs 40 --epochs-per-layer 10 \
      --seed 1 --out results.json
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch/mlp_mnist.py \
      --bench --model 784-784 --batch 100 --binary
"""

import argparse
import ctypes
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_LAYERS = 3
MEAN, STD = 0.1307, 0.3081  # the official MNIST normalisation (also used for Fashion-MNIST)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def read_idx(path):
    """Read a (gzipped) IDX file into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: unsupported IDX header")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def find_file(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}(.gz) not found in {data_dir}")


def load_split(data_dir, prefix):
    x = read_idx(find_file(data_dir, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find_file(data_dir, f"{prefix}-labels-idx1-ubyte"))
    x = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32))
    x = (x / 255.0 - MEAN) / STD  # ToTensor() then Normalize((0.1307,), (0.3081,))
    return x, torch.from_numpy(y.astype(np.int64))


def load_dataset(data_dir, validation_size=5000):
    """util.dataset.load_mnist_with_validation: the LAST validation_size
    training images are the validation set (Subset(range(...)), not random)."""
    x, y = load_split(data_dir, "train")
    xt, yt = load_split(data_dir, "t10k")
    split = len(x) - validation_size
    return (x[:split], y[:split]), (x[split:], y[split:]), (xt, yt)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class SignSTE(torch.autograd.Function):
    """sign(w) with sign(0)=+1; gradient passed through unchanged (identity STE)."""

    @staticmethod
    def forward(ctx, w):
        # torch.sign gives 0 at 0; adding (w == 0) makes it +1. Same values as
        # torch.where(w >= 0, 1, -1), but much faster with this torch build.
        return torch.sign(w).add_(w == 0)

    @staticmethod
    def backward(ctx, g):
        return g


class BinaryLinear(nn.Linear):
    """nn.Linear whose forward uses sign(weight) once self.binary is set
    (ControlBinaryLinear). Bias stays float. No clipping (the official
    clip_weights_ is a no-op)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = False

    def forward(self, x):
        w = SignSTE.apply(self.weight) if self.binary else self.weight
        return F.linear(x, w, self.bias)


class Mlp3(nn.Module):
    """models/mlp3.py Mlp3 / Mlp3Binary:
    Linear BN ReLU Linear BN ReLU Linear BN LogSoftmax."""

    def __init__(self, h1, h2, in_features=784, out_features=10):
        super().__init__()
        self.in_features = in_features
        self.fc1 = BinaryLinear(in_features, h1)
        self.bn1 = nn.BatchNorm1d(h1)
        self.fc2 = BinaryLinear(h1, h2)
        self.bn2 = nn.BatchNorm1d(h2)
        self.fc3 = BinaryLinear(h2, out_features)
        self.bn3 = nn.BatchNorm1d(out_features)
        self.layers = [self.fc1, self.fc2, self.fc3]

    def forward(self, x):
        x = x.view(-1, self.in_features)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.fc2(x)))
        return F.log_softmax(self.bn3(self.fc3(x)), dim=1)

    def binary_layers(self):
        return [i + 1 for i, l in enumerate(self.layers) if l.binary]


def parse_model(spec):
    try:
        h1, h2 = (int(v) for v in spec.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--model must look like 300-100, got {spec!r}")
    return h1, h2


def parse_order(spec):
    """Returns (kind, order) with order 0-based, or None for float/binary."""
    s = spec.strip().lower()
    if s in ("float", "binary"):
        return s, None
    if s == "forward":
        return "iterative", [0, 1, 2]
    if s == "reverse":
        return "iterative", [2, 1, 0]
    try:
        order = [int(v) - 1 for v in s.replace(" ", "").split(",")]
    except ValueError:
        order = None
    if order is None or sorted(order) != list(range(NUM_LAYERS)):
        raise argparse.ArgumentTypeError(
            f"--order must be float, binary, forward, reverse or a permutation like 1,3,2; got {spec!r}")
    return "iterative", order


def apply_schedule(model, kind, order, epoch, epochs_per_layer):
    """LayerControl.binarize_layer(), called before each epoch (0-based
    epoch): layer order[epoch // epochs_per_layer] becomes binary if that
    index < number of layers. Binary layers stay binary."""
    if kind == "binary":
        for l in model.layers:
            l.binary = True
    elif kind == "iterative":
        idx = epoch // epochs_per_layer
        if idx < len(order):
            model.layers[order[idx]].binary = True


# --------------------------------------------------------------------------
# Official-code evaluation side effect (optional)
# --------------------------------------------------------------------------

def official_eval_quirk(model):
    """The official test_epoch() calls restore_binary_weight() before and
    restore_full_precision() after evaluation; since forward() re-saves
    weight_orig from the (binarized) weight, the latent weights of binary
    layers end up replaced by torch.sign(w) after every evaluation. We
    reproduce the dominant part of that effect: w <- sign(w) for binary
    layers (with sign(0)=+1). (The official code also rolls back the last
    optimizer step of the epoch; that one-step effect is not reproduced.)"""
    with torch.no_grad():
        for l in model.layers:
            if l.binary:
                l.weight.copy_(SignSTE.apply(l.weight))


# --------------------------------------------------------------------------
# Training / evaluation
# --------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        loss += F.nll_loss(out, y[i:i + batch], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x), loss / len(x)


def train_epoch(model, opt, x, y, batch):
    model.train()
    perm = torch.randperm(len(x))
    total, n = 0.0, 0
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        loss = F.nll_loss(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        n += len(idx)
    return total / n


def _openblas():
    for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename  # raises AttributeError if not OpenBLAS
            return lib
        except (OSError, AttributeError):
            continue
    return None


def tune_malloc():
    """Keep freed memory in glibc's heap instead of returning it to the kernel.
    PyTorch allocates fresh multi-MB tensors every step (Adam's temporaries,
    activations, gradients); with glibc's defaults these come from mmap and
    each step pays page faults on new pages, which on this VM costs 2-3x the
    step time. Equivalent to MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    ok = libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(32 << 20))  # glibc maximum on 64-bit
    ok &= libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(1 << 30))
    return bool(ok)


def set_threads(n):
    """torch.set_num_threads does not reach Debian's OpenBLAS (BLAS_INFO=generic),
    which otherwise starts one thread per core: limit it explicitly."""
    torch.set_num_threads(n)
    lib = _openblas()
    if lib is not None:
        lib.openblas_set_num_threads(ctypes.c_int(n))


def openblas_threads():
    lib = _openblas()
    return lib.openblas_get_num_threads() if lib is not None else None


def openblas_core():
    """Name of the OpenBLAS kernel set in use (None if not OpenBLAS)."""
    lib = _openblas()
    if lib is None:
        return None
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


def environment(args):
    threads = args.threads
    return {
        "malloc_tuned": args.malloc_tuned,
        "torch_version": torch.__version__,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "openblas_threads": openblas_threads(),
        "openblas_core": openblas_core(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "python": sys.version.split()[0],
    }


def run_training(args):
    kind, order = args.order_parsed
    h1, h2 = args.model_parsed
    data_dir = args.data_dir or os.path.join("/work/shared/datasets", args.dataset)
    (xtr, ytr), (xva, yva), (xte, yte) = load_dataset(data_dir)

    # main.py: set_all_seed(seed) before building the model; train() seeds again.
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = Mlp3(h1, h2)
    torch.manual_seed(args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    history = []
    t0 = time.time()
    for epoch in range(args.epochs):
        apply_schedule(model, kind, order, epoch, args.epochs_per_layer)
        te = time.time()
        train_loss = train_epoch(model, opt, xtr, ytr, args.batch)
        train_seconds = time.time() - te
        val_acc, val_loss = evaluate(model, xva, yva)
        if args.official_eval_quirk:
            official_eval_quirk(model)
        rec = {
            "epoch": epoch + 1,
            "binary_layers": model.binary_layers(),
            "train_loss": train_loss,
            "val_accuracy": val_acc,
            "val_loss": val_loss,
            "train_seconds": train_seconds,
            "seconds": time.time() - t0,
        }
        history.append(rec)
        print(f"epoch {epoch + 1:3d} binary={rec['binary_layers']} loss={train_loss:.4f} "
              f"val_acc={val_acc:.4f} train_s={train_seconds:.1f} total_s={rec['seconds']:.1f}",
              flush=True)

    test_acc, test_loss = evaluate(model, xte, yte)
    total = time.time() - t0
    vals = [r["val_accuracy"] for r in history]
    best = int(np.argmax(vals)) if vals else -1
    result = {
        "model": args.model,
        "dataset": args.dataset,
        "order": args.order,
        "epochs": args.epochs,
        "epochs_per_layer": args.epochs_per_layer,
        "seed": args.seed,
        "lr": args.lr,
        "batch": args.batch,
        "official_eval_quirk": args.official_eval_quirk,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "best_val_accuracy": vals[best] if vals else None,
        "best_val_epoch": best + 1 if vals else None,
        "last_val_accuracy": vals[-1] if vals else None,
        "seconds": total,
        "environment": environment(args),
        "history": history,
    }
    print(f"test_accuracy={test_acc:.4f} best_val={result['best_val_accuracy']} "
          f"(epoch {result['best_val_epoch']}) last_val={result['last_val_accuracy']} "
          f"seconds={total:.1f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return result


def run_bench(args):
    """Time training steps only (forward, backward, Adam step) on random data
    of MNIST shape; prints one JSON line."""
    h1, h2 = args.model_parsed
    torch.manual_seed(args.seed)
    model = Mlp3(h1, h2)
    for l in model.layers:
        l.binary = args.binary
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    nbuf = 16
    xs = torch.randn(nbuf, args.batch, 784)
    ys = torch.randint(0, 10, (nbuf, args.batch))

    def step(i):
        opt.zero_grad()
        loss = F.nll_loss(model(xs[i % nbuf]), ys[i % nbuf])
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    steps = 0
    t0 = time.perf_counter()
    while True:
        step(steps)
        steps += 1
        el = time.perf_counter() - t0
        if steps >= args.steps and el >= args.min_seconds:
            break
    res = {
        "impl": "pytorch",
        "model": args.model,
        "binary": args.binary,
        "batch": args.batch,
        "steps": steps,
        "seconds": el,
        "examples_per_s": steps * args.batch / el,
        "ms_per_step": 1e3 * el / steps,
    }
    res.update(environment(args))
    print(json.dumps(res), flush=True)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="300-100", help="hidden sizes h1-h2, e.g. 300-100 or 784-784")
    p.add_argument("--order", default="forward",
                   help="float | binary | forward | reverse | permutation of 1,2,3 (e.g. 1,3,2)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--epochs-per-layer", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.1, help="Adam learning rate (official scripts: 0.1)")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--data-dir", default=None,
                   help="folder with the IDX files (default /work/shared/datasets/<dataset>)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--out", default=None, help="write results JSON here")
    p.add_argument("--official-eval-quirk", action="store_true",
                   help="after each validation pass, replace latent weights of binary layers "
                        "by sign(w), as the official test_epoch() does as a side effect")
    p.add_argument("--no-malloc-tuning", action="store_true",
                   help="leave glibc malloc thresholds at their defaults (slower here)")
    b = p.add_argument_group("benchmark mode")
    b.add_argument("--bench", action="store_true", help="time training steps only; print one JSON line")
    b.add_argument("--binary", action="store_true", help="bench: all three layers binary (default float)")
    b.add_argument("--steps", type=int, default=200, help="bench: minimum timed steps")
    b.add_argument("--warmup", type=int, default=20, help="bench: untimed steps first")
    b.add_argument("--min-seconds", type=float, default=2.0, help="bench: minimum timed seconds")
    args = p.parse_args(argv)

    args.malloc_tuned = tune_malloc() if not args.no_malloc_tuning else False
    set_threads(args.threads)
    try:
        args.model_parsed = parse_model(args.model)
        args.order_parsed = parse_order(args.order)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.epochs_per_layer < 1:
        p.error("--epochs-per-layer must be >= 1")

    if args.bench:
        run_bench(args)
    else:
        run_training(args)


if __name__ == "__main__":
    main()
