#!/usr/bin/python3
"""A small ResNet-style classifier with BatchNorm for the farm's labelled-images datasets.

Defaults fit Fashion-MNIST (1x28x28, 10 classes); global average pooling makes any height and width work, so
`--classes 4` fits `rmtc dataset synth --recipe classifier` (1x16x16, 4 classes). Defines the module, scripts it
(TorchScript, what the farm trains) and exports an ONNX template from the same module. Run with Debian's
python3-torch and python3-onnx:

    /usr/bin/python3 farm/models/resnet_classifier.py --out farm/models
    /usr/bin/python3 farm/models/resnet_classifier.py --out farm/models --classes 4 --size 16 --name resnet_classifier_synth
"""
import argparse
import os

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + self.shortcut(x))


class ResNetClassifier(nn.Module):
    def __init__(self, channels: int = 1, classes: int = 10, width: int = 16):
        super().__init__()
        self.stem = nn.Conv2d(channels, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.layer1 = BasicBlock(width, width, 1)
        self.layer2 = BasicBlock(width, 2 * width, 2)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.stem(x)))
        h = self.layer2(self.layer1(h))
        return self.fc(h.mean(dim=[2, 3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=28, help="height and width of the ONNX template's sample input")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="resnet_classifier")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = ResNetClassifier(args.channels, args.classes)
    scripted = torch.jit.script(model)
    scripted.save(os.path.join(args.out, args.name + ".pt"))

    # PRESERVE + no constant folding keeps the state-dict names and the BatchNorm nodes (see farm/models/README.md).
    sample = torch.zeros(1, args.channels, args.size, args.size)
    model.train()
    torch.onnx.export(model, sample, os.path.join(args.out, args.name + ".onnx"),
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


if __name__ == "__main__":
    main()
