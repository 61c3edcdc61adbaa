"""Loads a module written by `cohortctl model export` (Model::ExportTorchScript)
with PyTorch, as an application would, and checks it reproduces Cohort's
logits.

  check_export.py MODULE IMAGES LOGITS COUNT

IMAGES holds COUNT 28x28 images, one byte per pixel; LOGITS the COUNT x 10
float32 (little-endian) logits Cohort computed for them. Exits 0 when every
logit is within 1e-4, 1 otherwise (printing the largest difference).
"""
import sys

import torch


def main(module_path, images_path, logits_path, count):
    module = torch.jit.load(module_path)
    module.eval()
    with open(images_path, "rb") as f:
        pixels = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)
    with open(logits_path, "rb") as f:
        expected = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    x = pixels.reshape(count, 1, 28, 28).to(torch.float32) / 255.0
    with torch.no_grad():
        got = module(x)
    diff = (got.reshape(-1) - expected).abs().max().item()
    print(f"{count} images, largest logit difference {diff:.3g}")
    return 0 if got.shape == (count, 10) and diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
