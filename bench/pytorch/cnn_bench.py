#!/usr/bin/python3
"""PyTorch peer for binnet's convolutional networks: training (or inference)
throughput on synthetic data.

Networks follow the official code of Lan 2021, "Training binary neural
networks by iterative layer binarization"
(github.com/rakutentech/iterative_training):

  cnn       small CNN on 28x28x1 (binnet's): conv3x3 32 (same) BN ReLU,
            conv3x3 64 (same) BN ReLU, maxpool 2x2, flatten, dense 10, BN,
            log-softmax (3 binarizable layers: 2 conv, 1 dense)
  vgg5      models/vgg5binary.py Vgg5Binary (32x32x3)
  vgg9      models/vgg9binary.py Vgg9Binary (32x32x3)
  resnet20  models/resnet_control.py resnet20 (32x32x3; option-A shortcuts,
            convs without bias, final Linear with bias and no BN after it)
  resnet21  models/resnet_imagenet_binary.py resnet18 (224x224x3, 1000
            classes; 21 binarizable layers: stem conv, 16 block convs,
            3 downsample 1x1 convs, fc)

Modes: float (no layer binary) or binary (every conv / linear layer binary).
Binary layers use the straight-through estimator of mlp_mnist.py (binnet's):
forward with sign(w), sign(0)=+1; the gradient w.r.t. sign(w) is applied
unchanged to the latent float weight (identity STE, no cancellation). Biases
and BatchNorm parameters stay float.

Optimizers: Adam (lr 1e-3) for cnn/vgg; SGD (lr 0.1, momentum 0.9, weight
decay 1e-4) for the resnets, as the official code. Losses: nll_loss after
log-softmax (cnn/vgg), cross-entropy on logits (resnets).

Timing: fixed random inputs (a few batches, cycled) and random labels, kept
on the device; --warmup untimed steps, then --windows timed windows of at
least --steps steps and --min-window-seconds each; the median window is
reported (CUDA is synchronized at each window's start and end). --eval times
inference only (model.eval(), no_grad).

Usage (see README.md, "CNN throughput"):
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch/cnn_bench.py \
      --model vgg5 --mode binary --threads 2 --json
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlp_mnist import (BinaryLinear, SignSTE, openblas_core, openblas_threads,  # noqa: E402
                       set_threads, tune_malloc)


# --------------------------------------------------------------------------
# Binary layers
# --------------------------------------------------------------------------

class BinaryConv2d(nn.Conv2d):
    """nn.Conv2d whose forward uses sign(weight) once self.binary is set
    (ControlBinaryConv2d / BinaryConv2d of the official code). Bias stays float."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = False

    def forward(self, x):
        w = SignSTE.apply(self.weight) if self.binary else self.weight
        return self._conv_forward(x, w, self.bias)


def binarizable(model):
    return [m for m in model.modules() if isinstance(m, (BinaryConv2d, BinaryLinear))]


# --------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------

class SmallCNN(nn.Module):
    """binnet's small CNN for 28x28x1 inputs (MNIST shape)."""
    input_shape = (1, 28, 28)

    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            BinaryConv2d(1, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            BinaryConv2d(32, 64, kernel_size=3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            BinaryLinear(14 * 14 * 64, n_classes), nn.BatchNorm1d(n_classes), nn.LogSoftmax(dim=1),
        )
        self.criterion = F.nll_loss

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def _vgg_block(cin, cout):
    return [BinaryConv2d(cin, cout, kernel_size=3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _vgg_classifier(n_in, fc_units, n_classes):
    return nn.Sequential(
        BinaryLinear(n_in, fc_units), nn.BatchNorm1d(fc_units), nn.ReLU(inplace=True),
        BinaryLinear(fc_units, fc_units), nn.BatchNorm1d(fc_units), nn.ReLU(inplace=True),
        BinaryLinear(fc_units, n_classes), nn.BatchNorm1d(n_classes), nn.LogSoftmax(dim=1),
    )


class Vgg5(nn.Module):
    """models/vgg5binary.py Vgg5Binary: conv64 conv64 maxpool, FC 16384-256-256-10,
    BN after every layer."""
    input_shape = (3, 32, 32)

    def __init__(self, block1_ch=64, fc_units=256, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *_vgg_block(3, block1_ch), *_vgg_block(block1_ch, block1_ch),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = _vgg_classifier(16384, fc_units, n_classes)
        self.criterion = F.nll_loss

    def forward(self, x):
        out = self.features(x)
        return self.classifier(out.reshape(out.size(0), -1))


class Vgg9(nn.Module):
    """models/vgg9binary.py Vgg9Binary: (conv64 conv64 pool) (conv128 conv128 pool)
    (conv256 conv256 pool), FC 4096-256-256-10, BN after every layer."""
    input_shape = (3, 32, 32)

    def __init__(self, block1_ch=64, block2_ch=128, block3_ch=256, fc_units=256, n_classes=10):
        super().__init__()
        pool = lambda: nn.MaxPool2d(kernel_size=2, stride=2)  # noqa: E731
        self.features = nn.Sequential(
            *_vgg_block(3, block1_ch), *_vgg_block(block1_ch, block1_ch), pool(),
            *_vgg_block(block1_ch, block2_ch), *_vgg_block(block2_ch, block2_ch), pool(),
            *_vgg_block(block2_ch, block3_ch), *_vgg_block(block3_ch, block3_ch), pool(),
        )
        self.classifier = _vgg_classifier(4 * 4 * block3_ch, fc_units, n_classes)
        self.criterion = F.nll_loss

    def forward(self, x):
        out = self.features(x)
        return self.classifier(out.reshape(out.size(0), -1))


class CifarBasicBlock(nn.Module):
    """models/resnet_control.py BasicBlock with option-A shortcut."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = BinaryConv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = BinaryConv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or in_planes != planes) else None

    def shortcut(self, x):
        if self.pad is None:
            return x
        # option A: subsample by 2 and zero-pad the channels (parameter-free)
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet20(nn.Module):
    """models/resnet_control.py ResNet(BasicBlock, [3, 3, 3]); PyTorch default
    initialisation (the official _weights_init calls reset_parameters())."""
    input_shape = (3, 32, 32)

    def __init__(self, num_blocks=(3, 3, 3), n_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = BinaryConv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks[0], 1)
        self.layer2 = self._make_layer(32, num_blocks[1], 2)
        self.layer3 = self._make_layer(64, num_blocks[2], 2)
        self.linear = BinaryLinear(64, n_classes)
        self.criterion = F.cross_entropy

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(CifarBasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.reshape(out.size(0), -1))


class ImageNetBasicBlock(nn.Module):
    """models/resnet_imagenet_binary.py BasicBlock (torchvision's)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = BinaryConv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = BinaryConv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)


class ResNet21(nn.Module):
    """models/resnet_imagenet_binary.py resnet18(): torchvision ResNet-18 with
    every conv (incl. the 1x1 downsample convs) and the fc binarizable:
    21 binarizable layers, hence "resnet21" (models/resnet21_layers_*.json)."""
    input_shape = (3, 224, 224)

    def __init__(self, layers=(2, 2, 2, 2), n_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = BinaryConv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], 1)
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = BinaryLinear(512, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        self.criterion = F.cross_entropy

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                BinaryConv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [ImageNetBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [ImageNetBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


MODELS = {"cnn": SmallCNN, "vgg5": Vgg5, "vgg9": Vgg9, "resnet20": ResNet20, "resnet21": ResNet21}
DEFAULT_BATCH = {"cnn": 100, "vgg5": 100, "vgg9": 100, "resnet20": 128, "resnet21": 32}
# Expected parameter counts (float model), checked by --check.
PARAMS = {"resnet20": 269_722, "resnet21": 11_689_512}


def build(name, mode):
    model = MODELS[name]()
    for m in binarizable(model):
        m.binary = (mode == "binary")
    return model


def make_optimizer(name, model, lr):
    if name.startswith("resnet"):
        return torch.optim.SGD(model.parameters(), lr=0.1 if lr is None else lr,
                               momentum=0.9, weight_decay=1e-4)
    return torch.optim.Adam(model.parameters(), lr=1e-3 if lr is None else lr)


# --------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_ops(model, step):
    """Names of the convolution kernels one step runs (autograd profiler),
    e.g. aten::mkldnn_convolution (oneDNN), aten::_slow_conv2d_forward
    (im2col + BLAS), aten::cudnn_convolution."""
    with torch.autograd.profiler.profile() as prof:
        step(0)
    names = {e.name for e in prof.function_events}
    return sorted(n for n in names if "conv" in n and n not in (
        "aten::conv2d", "aten::convolution", "aten::_convolution", "aten::convolution_backward"))


def cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return None


def run_bench(args):
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = build(args.model, args.mode).to(device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(args.model, model, args.lr)

    nbuf = args.buffers
    xs = [torch.randn(args.batch, *model.input_shape, device=device).contiguous(memory_format=fmt)
          for _ in range(nbuf)]
    n_classes = 1000 if args.model == "resnet21" else 10
    ys = [torch.randint(0, n_classes, (args.batch,), device=device) for _ in range(nbuf)]
    last = {}

    if args.eval:
        model.eval()

        def step(i):
            with torch.no_grad():
                last["out"] = model(xs[i % nbuf])
    else:
        model.train()

        def step(i):
            opt.zero_grad(set_to_none=True)
            loss = model.criterion(model(xs[i % nbuf]), ys[i % nbuf])
            loss.backward()
            opt.step()
            last["loss"] = loss

    for i in range(args.warmup):
        step(i)
    sync(device)

    windows = []  # (steps, wall seconds, process CPU seconds)
    i = 0
    for _ in range(args.windows):
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        while True:
            step(i)
            i += 1
            n += 1
            if n >= args.steps:
                sync(device)
                el = time.perf_counter() - t0
                if el >= args.min_window_seconds:
                    break
        windows.append((n, el, time.process_time() - c0))

    rates = [n * args.batch / el for n, el, _ in windows]
    # Examples per CPU-second of this process (all its threads): with other
    # processes on the machine, less sensitive to preemption than wall time;
    # with threads=1 it is an estimate of the uncontended rate.
    cpu_rates = [n * args.batch / c for n, _, c in windows if c > 0]
    step_ms = [1e3 * el / n for n, el, _ in windows]
    final_loss = last["loss"].item() if "loss" in last else None
    if final_loss is not None and final_loss != final_loss:
        print("warning: loss is NaN", file=sys.stderr)
    res = {
        "impl": "pytorch",
        "model": args.model,
        "mode": args.mode,
        "phase": "eval" if args.eval else "train",
        "batch": args.batch,
        "threads": args.threads,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "examples_per_s": statistics.median(rates),
        "step_ms": statistics.median(step_ms),
        "examples_per_s_max": max(rates),
        "examples_per_s_windows": [round(r, 2) for r in rates],
        "examples_per_cpu_s": statistics.median(cpu_rates) if cpu_rates else None,
        "steps_per_window": [n for n, _, _ in windows],
        "warmup": args.warmup,
        "optimizer": type(opt).__name__ if not args.eval else None,
        "channels_last": args.channels_last,
        "params": sum(p.numel() for p in model.parameters()),
        "binary_layers": sum(m.binary for m in binarizable(model)),
        "final_loss": final_loss,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "openblas_core": openblas_core(),
        "openblas_threads": openblas_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "cpu_capability": cpu_capability(),
        "malloc_tuned": args.malloc_tuned,
        "flush_denormal": args.flush_denormal,
        "loadavg_1min": loadavg(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if device.type == "cuda":
        res.update({
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        })
    if not args.no_profile:
        res["conv_ops"] = conv_ops(model, step)
    if args.json:
        print(json.dumps(res), flush=True)
    else:
        print(f"{args.model} {args.mode} {res['phase']} batch={args.batch} threads={args.threads} "
              f"device={args.device}: {res['examples_per_s']:.1f} examples/s, "
              f"{res['step_ms']:.1f} ms/step (windows: {res['examples_per_s_windows']}; "
              f"per CPU-second: {res['examples_per_cpu_s'] or 0:.1f}) "
              f"conv_ops={res.get('conv_ops')}", flush=True)
    return res


def loadavg():
    """1-minute load average at the end of the run (other processes share the CPUs)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------

def check():
    """Quick correctness checks: STE, shapes, parameter counts."""
    torch.manual_seed(0)
    # STE: sign(0)=+1 forward; identity gradient to the latent weight.
    w = torch.tensor([-2.0, -0.0, 0.0, 0.5], requires_grad=True)
    s = SignSTE.apply(w)
    assert s.tolist() == [-1.0, 1.0, 1.0, 1.0], s
    g = torch.tensor([0.1, 0.2, -0.3, 5.0])
    s.backward(g)
    assert torch.equal(w.grad, g)
    # Binary conv: gradient w.r.t. latent weights equals that of a float conv
    # evaluated at sign(w).
    conv = BinaryConv2d(3, 4, 3, padding=1)
    conv.binary = True
    ref = nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        ref.weight.copy_(torch.where(conv.weight >= 0, 1.0, -1.0))
        ref.bias.copy_(conv.bias)
    x = torch.randn(2, 3, 8, 8)
    conv(x).square().sum().backward()
    ref(x).square().sum().backward()
    assert torch.allclose(conv.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-4)
    for name, cls in MODELS.items():
        m = build(name, "binary")
        b = 2
        out = m(torch.randn(b, *cls.input_shape))
        n_cls = 1000 if name == "resnet21" else 10
        assert out.shape == (b, n_cls), (name, out.shape)
        n = sum(p.numel() for p in m.parameters())
        if name in PARAMS:
            assert n == PARAMS[name], (name, n)
        print(f"{name}: {len(binarizable(m))} binarizable layers, {n} parameters, output {tuple(out.shape)}")
    print("check: ok")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="cnn", choices=sorted(MODELS))
    p.add_argument("--mode", default="float", choices=["float", "binary"])
    p.add_argument("--batch", type=int, default=None,
                   help="batch size (default: 100; resnet20 128; resnet21 32)")
    p.add_argument("--threads", type=int, default=1, help="torch (and OpenBLAS) threads")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--steps", type=int, default=10, help="minimum steps per timed window")
    p.add_argument("--windows", type=int, default=5, help="timed windows (median reported)")
    p.add_argument("--min-window-seconds", type=float, default=1.0, help="minimum seconds per window")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--buffers", type=int, default=4, help="distinct fixed input batches, cycled")
    p.add_argument("--eval", action="store_true", help="time inference only (eval mode, no_grad)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: Adam 1e-3, SGD 0.1)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format (binnet's layout)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--no-profile", action="store_true",
                   help="skip the one profiled step that records conv_ops")
    p.add_argument("--no-tf32", action="store_true", help="cuda: disable TF32 in cuDNN and matmul")
    p.add_argument("--no-cudnn-benchmark", action="store_true", help="cuda: cudnn.benchmark off")
    p.add_argument("--no-malloc-tuning", action="store_true",
                   help="leave glibc malloc thresholds at their defaults")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True) (CPU: flush-to-zero / denormals-are-zero)")
    p.add_argument("--check", action="store_true", help="run correctness checks and exit")
    args = p.parse_args(argv)

    args.malloc_tuned = tune_malloc() if not args.no_malloc_tuning else False
    set_threads(args.threads)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        p.error("--flush-denormal: not supported on this CPU")
    if args.check:
        check()
        return
    if args.batch is None:
        args.batch = DEFAULT_BATCH[args.model]
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            p.error("CUDA is not available")
        torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
        if args.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
    run_bench(args)


if __name__ == "__main__":
    main()
