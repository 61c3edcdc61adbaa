"""Checks ONNX files with the ONNX project's own checker (python3-onnx):
the full check, with shape inference, as a runtime's loader would.

  check_model.py MODEL...

Exits 0 when every file passes, 1 otherwise (printing the checker's reason).
"""
import sys

import onnx
import onnx.checker


def main(paths):
    failed = 0
    for path in paths:
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
            print(f"{path}: ok (onnx {onnx.__version__})")
        except Exception as e:  # the checker raises several kinds
            print(f"{path}: {e}")
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
