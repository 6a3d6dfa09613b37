#!/usr/bin/python3
"""Tiny TorchScript files that the farm's model check must refuse (used by tests/RMTC.Farm.Training.Tests).

    /usr/bin/python3 farm/models/testdata/make_test_models.py
"""
import os

import torch
from torch import nn

OUT = os.path.dirname(os.path.abspath(__file__))


class HalfSize(nn.Module):
    """Image-pairs model whose output is half the target's size (a forgotten upsampling)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(self.conv(x), 2)


class DoubleClassifier(nn.Module):
    """Labelled-images model with float64 parameters."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1).double()).float()


torch.manual_seed(1)
torch.jit.script(HalfSize()).save(os.path.join(OUT, "half_size_denoiser.pt"))
torch.jit.script(DoubleClassifier().double()).save(os.path.join(OUT, "float64_classifier.pt"))
with open(os.path.join(OUT, "not_torchscript.pt"), "wb") as f:
    f.write(b"this is not a TorchScript archive\n")
