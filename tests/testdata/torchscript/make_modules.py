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
    }
    for name, module in modules.items():
        torch.jit.script(module.eval()).save(os.path.join(out, name + ".pt"))
    # A traced export of the same network takes the other lowering path
    # (aten::_convolution instead of aten::conv2d).
    traced = torch.jit.trace(ChainCnn().eval(), torch.zeros(1, 1, 28, 28))
    traced.save(os.path.join(out, "chain_cnn_traced.pt"))


if __name__ == "__main__":
    main()
