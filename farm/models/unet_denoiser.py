#!/usr/bin/python3
"""A small U-Net denoiser for the farm's image-pairs datasets (e.g. `rmtc dataset synth --recipe denoiser`: 3x32x32).

Defines the module, scripts it (TorchScript, what the farm trains) and exports an ONNX template from the same module
(what `rmtc export` will fill with trained weights). Run with Debian's python3-torch and python3-onnx:

    /usr/bin/python3 farm/models/unet_denoiser.py --out farm/models

Writes unet_denoiser.pt and unet_denoiser.onnx. Any height and width divisible by 2 work (one down/up level).
"""
import argparse
import os

import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class UNetDenoiser(nn.Module):
    """One-level U-Net predicting the residual (noise) to subtract from the input."""

    def __init__(self, channels: int = 3, width: int = 12):
        super().__init__()
        self.enc = ConvBlock(channels, width)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.mid = ConvBlock(2 * width, 2 * width)
        self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec = ConvBlock(2 * width, width)
        self.head = nn.Conv2d(width, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.enc(x)
        m = self.mid(torch.relu(self.down(e)))
        d = self.dec(torch.cat([e, self.up(m)], dim=1))
        return x - self.head(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--size", type=int, default=32, help="height and width of the ONNX template's sample input")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="unet_denoiser")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = UNetDenoiser(args.channels)
    scripted = torch.jit.script(model)
    scripted.save(os.path.join(args.out, args.name + ".pt"))

    # PRESERVE + no constant folding keeps the state-dict names and the BatchNorm nodes (see farm/models/README.md).
    sample = torch.zeros(1, args.channels, args.size, args.size)
    model.train()
    torch.onnx.export(model, sample, os.path.join(args.out, args.name + ".onnx"),
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


if __name__ == "__main__":
    main()
