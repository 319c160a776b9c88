#!/usr/bin/env python3
"""JAX peer for binnet's binary MLP training throughput (meant for a GPU).

Model (the official Mlp3 / Mlp3Binary of Lan 2021, as bench/pytorch/mlp_mnist.py):
    Dense(784,h1) BN ReLU  Dense(h1,h2) BN ReLU  Dense(h2,10) BN  log-softmax, NLL loss.
  * Dense weights [in,out], PyTorch's default init (uniform +-1/sqrt(fan_in),
    weights and biases). Biases and BN scale/offset stay float.
  * binary mode: every Dense uses sign(w), sign(0)=+1, with the identity
    straight-through estimator (jax.custom_vjp: the gradient w.r.t. sign(w)
    goes unchanged to the latent float weight; no cancellation / clipping).
  * BatchNorm in training mode: batch mean and biased variance for the
    normalisation, eps 1e-5; running statistics updated as PyTorch does
    (momentum 0.1, unbiased variance), so the step does the same work.
  * Adam (betas 0.9/0.999, eps 1e-8, no weight decay, bias-corrected), lr 1e-3,
    hand-written (no optax needed).

Timing: a few fixed random batches (x ~ N(0,1), random labels) are put on the
device once; the train step is jit-compiled with the state donated; each
Python call runs --scan steps inside one lax.scan (1 = one dispatch per step,
as a plain training loop). --warmup calls (including compilation) are
untimed, then --windows windows of at least --min-window-seconds; each window
ends with block_until_ready. The median window is reported as one JSON line
per configuration.

Usage (defaults run the whole grid: 2048-2048 and 784-784, batch 100 and
1000, float and binary):
    python3 jax_mlp_bench.py                      # whole grid, JSON lines
    python3 jax_mlp_bench.py --model 2048-2048 --batch 100 --mode binary --scan 10
Needs jax (with CUDA for the GPU: pip install "jax[cuda12]"). JAX_PLATFORMS=cpu
runs it on the CPU.
"""

import argparse
import functools
import json
import statistics
import time

import jax
import jax.numpy as jnp

EPS_BN, MOM_BN = 1e-5, 0.1
B1, B2, EPS_ADAM = 0.9, 0.999, 1e-8


@jax.custom_vjp
def sign_ste(w):
    """sign(w) with sign(0)=+1 (also for -0.0)."""
    return jnp.where(w >= 0, 1.0, -1.0).astype(w.dtype)


def _sign_fwd(w):
    return sign_ste(w), None


def _sign_bwd(_, g):
    return (g,)  # identity straight-through estimator


sign_ste.defvjp(_sign_fwd, _sign_bwd)


def init(key, sizes):
    params, bn_state = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / fan_in ** 0.5
        params.append({
            "w": jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound),
            "b": jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound),
            "gamma": jnp.ones((fan_out,), jnp.float32),
            "beta": jnp.zeros((fan_out,), jnp.float32),
        })
        bn_state.append({"mean": jnp.zeros((fan_out,), jnp.float32),
                         "var": jnp.ones((fan_out,), jnp.float32)})
    return params, bn_state


def forward(params, bn_state, x, binary):
    new_state = []
    n = x.shape[0]
    for i, (p, s) in enumerate(zip(params, bn_state)):
        w = sign_ste(p["w"]) if binary else p["w"]
        y = x @ w + p["b"]
        mean = y.mean(0)
        var = jnp.square(y - mean).mean(0)  # biased, for normalisation
        y = (y - mean) * jax.lax.rsqrt(var + EPS_BN) * p["gamma"] + p["beta"]
        new_state.append({
            "mean": (1 - MOM_BN) * s["mean"] + MOM_BN * jax.lax.stop_gradient(mean),
            "var": (1 - MOM_BN) * s["var"] + MOM_BN * jax.lax.stop_gradient(var) * n / (n - 1),
        })
        x = jax.nn.relu(y) if i < len(params) - 1 else jax.nn.log_softmax(y)
    return x, new_state


def loss_fn(params, bn_state, x, y, binary):
    logp, new_state = forward(params, bn_state, x, binary)
    return -jnp.take_along_axis(logp, y[:, None], axis=1).mean(), new_state


def adam(params, grads, m, v, t, lr):
    """torch.optim.Adam's update, p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps),
    with bc1 = 1-B1^t, bc2 = 1-B2^t, rewritten with one scalar factor."""
    m = jax.tree_util.tree_map(lambda m, g: B1 * m + (1 - B1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: B2 * v + (1 - B2) * g * g, v, grads)
    a = lr * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    params = jax.tree_util.tree_map(lambda p, m, v: p - a * m / (jnp.sqrt(v) + EPS_ADAM * jnp.sqrt(1 - B2 ** t)),
                                    params, m, v)
    return params, m, v


def make_train(binary, lr, scan, nbuf):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def one_step(state, i, xs, ys):
        params, bn_state, m, v, t = state
        x, y = xs[i], ys[i]
        (loss, bn_state), grads = grad_fn(params, bn_state, x, y, binary)
        t = t + 1
        params, m, v = adam(params, grads, m, v, t.astype(jnp.float32), lr)
        return (params, bn_state, m, v, t), loss

    @functools.partial(jax.jit, donate_argnums=(0,))
    def train(state, xs, ys, start):
        # `scan` steps in one call, cycling through the nbuf fixed batches
        idx = (start + jnp.arange(scan)) % nbuf
        state, losses = jax.lax.scan(lambda s, i: one_step(s, i, xs, ys), state, idx)
        return state, losses[-1]

    return train


def bench(args, sizes, batch, binary):
    key = jax.random.PRNGKey(args.seed)
    kp, kx, ky = jax.random.split(key, 3)
    params, bn_state = init(kp, sizes)
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)  # distinct buffers (the state is donated)
    state = (params, bn_state, m, v, jnp.zeros((), jnp.int32))
    xs = jax.random.normal(kx, (args.buffers, batch, sizes[0]), jnp.float32)
    ys = jax.random.randint(ky, (args.buffers, batch), 0, sizes[-1])
    train = make_train(binary, args.lr, args.scan, args.buffers)

    i = 0
    t0 = time.perf_counter()
    for _ in range(max(1, args.warmup)):  # the first call compiles
        state, loss = train(state, xs, ys, i)
        i += args.scan
    loss.block_until_ready()
    warmup_s = time.perf_counter() - t0

    windows = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        n = 0
        while True:
            state, loss = train(state, xs, ys, i)
            i += args.scan
            n += args.scan
            if n >= args.steps:
                loss.block_until_ready()
                el = time.perf_counter() - t0
                if el >= args.min_window_seconds:
                    break
        windows.append((n, el))
    sps = [n / el for n, el in windows]
    dev = jax.devices()[0]
    return {
        "impl": "jax",
        "model": "-".join(str(s) for s in sizes[1:-1]),
        "mode": "binary" if binary else "float",
        "batch": batch,
        "steps_per_s": statistics.median(sps),
        "examples_per_s": statistics.median(sps) * batch,
        "step_ms": 1e3 / statistics.median(sps),
        "steps_per_s_windows": [round(s, 1) for s in sps],
        "scan": args.scan,
        "warmup_s": warmup_s,
        "final_loss": float(loss),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "device": dev.device_kind,
        # None = XLA's default (on recent NVIDIA GPUs f32 dots may run as TF32)
        "matmul_precision": getattr(jax.config, "jax_default_matmul_precision", None),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", nargs="*", default=["2048-2048", "784-784"], help="hidden sizes h1-h2")
    p.add_argument("--batch", type=int, nargs="*", default=[100, 1000])
    p.add_argument("--mode", nargs="*", default=["float", "binary"], choices=["float", "binary"])
    p.add_argument("--scan", type=int, default=1, help="train steps per jitted call (lax.scan)")
    p.add_argument("--steps", type=int, default=200, help="minimum steps per timed window")
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--min-window-seconds", type=float, default=1.0)
    p.add_argument("--warmup", type=int, default=5, help="untimed calls (the first compiles)")
    p.add_argument("--buffers", type=int, default=16, help="distinct fixed batches on the device")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--precision", default=None, choices=["default", "high", "highest"],
                   help="jax_default_matmul_precision (GPU: default may use TF32; highest = full f32)")
    args = p.parse_args()
    if args.precision:
        jax.config.update("jax_default_matmul_precision", args.precision)
    for model in args.model:
        h = [int(v) for v in model.split("-")]
        for batch in args.batch:
            for mode in args.mode:
                print(json.dumps(bench(args, [784] + h + [10], batch, mode == "binary")), flush=True)


if __name__ == "__main__":
    main()
