#!/usr/bin/env python3
"""PyTorch CPU peer of binnet's deploy runtime: inference latency (batch 1) and throughput (batch 64)
of the float MLPs 784-784-784-10 and 784-4096-4096-10 (Linear + BatchNorm1d (+ ReLU), eval mode,
no_grad), as in bench/deploy. Prints one JSON line per network.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch/infer_latency.py --threads 1
"""
import argparse, json, os, statistics, time

import torch
import torch.nn as nn


def mlp(hidden):
    layers, prev = [], 784
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.BatchNorm1d(h), nn.ReLU()]
        prev = h
    layers += [nn.Linear(prev, 10), nn.BatchNorm1d(10)]
    return nn.Sequential(*layers).eval()


def timed(net, x, seconds):
    with torch.no_grad():
        for _ in range(20):
            net(x)
        times = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    for name, hidden in [("mlp-784-784", [784, 784]), ("784-4096-4096-10", [4096, 4096])]:
        net = mlp(hidden)
        b1 = timed(net, torch.randn(1, 784), a.seconds)
        b64 = timed(net, torch.randn(64, 784), a.seconds)
        print(json.dumps({"network": name, "threads": a.threads, "batch1_us": b1 * 1e6,
                          "batch64_images_per_s": 64 / b64, "torch": torch.__version__,
                          "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}))


if __name__ == "__main__":
    main()
