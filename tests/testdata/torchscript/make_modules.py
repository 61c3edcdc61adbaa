#!/usr/bin/env python3
"""Writes the TorchScript test modules of common/ml/testing with PyTorch.

Usage: make_modules.py OUT_DIR   (needs python3-torch, see deploy/install-deps.sh)

tests/common/ml/torchscript_import_test.cc runs this when PyTorch is
installed and imports the results; without PyTorch the test builds the same
modules with LibTorch's TorchScript compiler (common/ml/testing). Each class
here matches one Fixture there.
"""

import os
import sys

import torch
from torch import nn


class ChainCnn(nn.Module):
    """Conv+ReLU+MaxPool, Flatten, Linear+ReLU, Dropout, Linear (12,770 params)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(4 * 14 * 14, 16), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(16, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class NoParameters(nn.Module):
    def forward(self, x):
        return torch.zeros([x.size(0), 10])


class WrongInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 10, 28)

    def forward(self, x):
        return torch.flatten(self.conv(x), 1)


class UnsupportedOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(torch.sigmoid(torch.flatten(x, 1)))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(784, 10)
        self.b = nn.Linear(784, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.a(x) + self.b(x)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project, with the
    input added back when the shape allows it."""

    def __init__(self, cin, cout, stride, expand, activation):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
            activation(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1,
                      groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), activation(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        if self.use_residual:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetStyle(nn.Module):
    """A small MobileNetV2-style network for 28x28 inputs: batch norm,
    ReLU6 and hardswish, depthwise convolutions, residual additions,
    'same' padding, average and global average pooling, dropout."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(8), nn.ReLU6(inplace=True))  # 14x14
        self.blocks = nn.Sequential(
            InvertedResidual(8, 8, 1, 2, nn.ReLU6),
            InvertedResidual(8, 16, 2, 2, nn.Hardswish),  # 7x7
            InvertedResidual(16, 16, 1, 2, nn.Hardswish))
        self.head = nn.Sequential(
            nn.Conv2d(16, 32, 3, padding="same"), nn.BatchNorm2d(32),
            nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.classifier(x.view(x.size(0), -1))


class AvgPoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))


class ConvShortcut(nn.Module):
    """ResNet's downsampling block: the shortcut has a layer of its own."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.shortcut = nn.Conv2d(1, 4, 1)
        self.fc = nn.Linear(4 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x) + self.shortcut(x), 1))


class SlowBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4, momentum=0.01)
        self.fc = nn.Linear(4 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.bn(self.conv(x)), 1))


class AdaptivePoolTo2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


def randomize_batch_norm(module):
    """Running statistics and affine parameters away from their initial
    values, so that folding them is tested."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return module


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    modules = {
        "chain_cnn": ChainCnn(),
        "no_parameters": NoParameters(),
        "wrong_input": WrongInput(),
        "unsupported_op": UnsupportedOp(),
        "residual": Residual(),
        "mobilenet_style": randomize_batch_norm(MobileNetStyle()),
        "avg_pool": randomize_batch_norm(AvgPoolNet()),
        "conv_shortcut": ConvShortcut(),
        "slow_batch_norm": SlowBatchNorm(),
        "adaptive_pool_to_2": AdaptivePoolTo2(),
    }
    for name, module in modules.items():
        torch.jit.script(module.eval()).save(os.path.join(out, name + ".pt"))
    # A traced export of the same network takes the other lowering path
    # (aten::_convolution instead of aten::conv2d).
    traced = torch.jit.trace(ChainCnn().eval(), torch.zeros(1, 1, 28, 28))
    traced.save(os.path.join(out, "chain_cnn_traced.pt"))
    # Tracing records batch norm in the mode it was traced in: refused.
    traced_bn = torch.jit.trace(AvgPoolNet().eval(), torch.zeros(1, 1, 28, 28))
    traced_bn.save(os.path.join(out, "traced_batch_norm.pt"))
    # PyTorch's own logits on fixed images (one line of 784 pixels, then
    # one of 10 logits, per image), given Cohort's normalisation
    # (common/ml/dataset_tensors.h), to compare with the import.
    pixels = torch.randint(0, 256, (8, 1, 28, 28),
                           generator=torch.Generator().manual_seed(3))
    images = (pixels.float() / 255 - 0.2860) / 0.3530
    mobile = torch.jit.load(os.path.join(out, "mobilenet_style.pt"))
    with torch.no_grad():
        logits = mobile(images)
    with open(os.path.join(out, "mobilenet_style_probe.txt"), "w") as f:
        for row_pixels, row_logits in zip(pixels, logits):
            f.write(" ".join(str(int(v)) for v in row_pixels.flatten()) + "\n")
            f.write(" ".join(repr(float(v)) for v in row_logits) + "\n")


if __name__ == "__main__":
    main()
