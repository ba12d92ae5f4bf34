"""A Brevitas ResNet-style BNN through the whole flow, as a user brings one: trained here on
scikit-learn's 8x8 digits (Brevitas 0.13, PyTorch CPU), exported as QONNX, `popcorn
import`, then `popcorn build` on the ULX3S-85F (the report: reports/brevitas-resnet-
digits-ulx3s-85f/). Needs the qonnx extra (torch, brevitas, qonnx).

    python benchmarks/brevitas_resnet.py [--downsample] [--board BOARD] [--target-cycles N]

The network: an 8-bit input quantizer, a 3x3 binary convolution of 16 channels, batch
norm and sign, two basic residual blocks (two 3x3 binary convolutions with batch norms,
the block's input added, a sign), a 2x2 max-pool and a binary Linear(256, 10). With
``--downsample`` the second block halves the map (a stride-2 first convolution of 24
channels, a 1x1 stride-2 binary convolution and batch norm on the shortcut) and the pool
is left out. Every figure in the report is written by `popcorn build` from the tools'
outputs; the PyTorch test accuracy is printed here and written beside the network file.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def _model(downsample):
    import torch
    from torch import nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import Uint8ActPerTensorFloat
    from brevitas.quant.binary import (SignedBinaryActPerTensorConst,
                                       SignedBinaryWeightPerTensorConst)

    def sign():
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)

    def conv(inputs, outputs, kernel=3, stride=1):
        return QuantConv2d(inputs, outputs, kernel, stride=stride, padding=kernel // 2,
                           bias=False, weight_quant=SignedBinaryWeightPerTensorConst)

    class Block(nn.Module):
        def __init__(self, width, out, stride):
            super().__init__()
            self.a, self.a_bn, self.a_q = conv(width, out, stride=stride), \
                nn.BatchNorm2d(out), sign()
            self.b, self.b_bn, self.q = conv(out, out), nn.BatchNorm2d(out), sign()
            self.short = None if stride == 1 else nn.Sequential(
                conv(width, out, kernel=1, stride=stride), nn.BatchNorm2d(out))

        def forward(self, x):
            y = self.b_bn(self.b(self.a_q(self.a_bn(self.a(x)))))
            return self.q(y + (x if self.short is None else self.short(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            width, out = 16, 24 if downsample else 16
            self.q0 = QuantIdentity(act_quant=Uint8ActPerTensorFloat)
            self.stem, self.stem_bn, self.stem_q = conv(1, width), nn.BatchNorm2d(width), sign()
            self.blocks = nn.Sequential(Block(width, width, 1),
                                        Block(width, out, 2 if downsample else 1))
            self.pool = nn.Identity() if downsample else nn.MaxPool2d(2)
            self.fc = QuantLinear(out * 16, 10, bias=True,
                                  weight_quant=SignedBinaryWeightPerTensorConst)

        def forward(self, x):
            x = self.blocks(self.stem_q(self.stem_bn(self.stem(self.q0(x)))))
            return self.fc(torch.flatten(self.pool(x), 1))

    return Net()


def train_and_export(folder, downsample, epochs=15):
    """Train on the digits (1 400 images, seed 0), export QONNX; (onnx path, test inputs
    path, PyTorch test accuracy)."""
    import torch
    from brevitas.export import export_qonnx
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1400], order[1400:]
    net = _model(downsample)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    xs, ys = torch.as_tensor(x[train]), torch.as_tensor(digits.target[train])
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xs))
        for start in range(0, len(xs), 64):
            batch = perm[start:start + 64]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(xs[batch]), ys[batch]).backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        accuracy = float((net(torch.as_tensor(x[test])).argmax(1).numpy()
                          == digits.target[test]).mean())
    folder.mkdir(parents=True, exist_ok=True)
    onnx = folder / "model.onnx"
    export_qonnx(net, torch.as_tensor(x[:1]), str(onnx))
    inputs = folder / "test.npz"
    np.savez(inputs, x=x[test], y=digits.target[test])
    return onnx, inputs, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downsample", action="store_true")
    parser.add_argument("--board", default="ulx3s-85f")
    parser.add_argument("--target-cycles", default="2000")
    args = parser.parse_args()
    name = "brevitas-resnet-digits" + ("-down" if args.downsample else "")
    folder = Path("build") / name
    onnx, inputs, accuracy = train_and_export(folder, args.downsample)
    print(f"PyTorch test accuracy: {accuracy:.4f}", flush=True)
    network = folder / f"{name}.npz"
    (folder / "torch.json").write_text(json.dumps({"torch_test_accuracy": accuracy}))
    popcorn = [sys.executable, "-m", "popcorn.cli"]
    subprocess.run(popcorn + ["import", str(onnx), "-o", str(network)], check=True)
    subprocess.run(popcorn + ["build", str(network), "--inputs", str(inputs), "--board",
                              args.board, "--target-cycles", args.target_cycles,
                              "--arch", "dataflow"], check=True)


if __name__ == "__main__":
    main()
