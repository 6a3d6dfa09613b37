#!/usr/bin/python3
"""ONNX templates of farm/models/resnet_classifier_synth.pt exported with other flags (used by tests/RMTC.Farm.Inference.Tests).

The same seed and module as `resnet_classifier.py --classes 4 --size 16 --name resnet_classifier_synth`, so the
templates hold that file's initial state:

- resnet_synth_eval_tied.onnx: eval() with TrainingMode.PRESERVE and no constant folding; the exporter de-duplicates
  equal initializers, so e.g. `layer2.shortcut.1.running_var` becomes `Identity(layer2.bn1.running_var)`.
- resnet_synth_folded.onnx: eval() with the default flags; BatchNorm is folded into the convolutions and their
  initializers renamed (`onnx::Conv_61`), which `rmtc export` must refuse by name.

    /usr/bin/python3 farm/models/testdata/make_test_templates.py
"""
import os
import sys

import torch

OUT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(OUT))
from resnet_classifier import ResNetClassifier  # noqa: E402

torch.manual_seed(1)
model = ResNetClassifier(1, 4).eval()
sample = torch.zeros(1, 1, 16, 16)
names = dict(input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
torch.onnx.export(model, sample, os.path.join(OUT, "resnet_synth_eval_tied.onnx"),
                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, **names)
torch.onnx.export(model, sample, os.path.join(OUT, "resnet_synth_folded.onnx"), **names)
