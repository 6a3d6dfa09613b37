#!/usr/bin/python3
"""PyTorch's own training of resnet_classifier_synth.pt, the reference the farm's training loop is held to
(tests/RMTC.Farm.Training.Tests/ScriptedParityTests.cs): the same file, the same samples in the same mini-batches
(the loop's SplitMix64 shuffles, from farm/scripts/pytorch_fashion_mnist.py), SGD with momentum and weight decay,
evaluated in eval mode (BatchNorm's running statistics) after every epoch. Writes resnet_synth_parity.json.

    dotnet run --project src/RMTC.Farm.Cli -c Release -- dataset synth --recipe classifier --samples 48 --seed 5 --out /tmp/parity-data
    /usr/bin/python3 farm/models/testdata/make_parity_reference.py --data /tmp/parity-data
"""
import argparse
import json
import os
import struct
import sys

import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from pytorch_fashion_mnist import rmtc_orders  # noqa: E402

SEED, EPOCHS, BATCH, LR, MOMENTUM, WEIGHT_DECAY = 9, 3, 16, 0.05, 0.9, 1e-4
BUFFERS = ["bn.running_mean", "layer2.bn2.running_var", "layer2.shortcut.1.num_batches_tracked"]


def read_sample(path: str):
    with open(path, "rb") as f:
        data = f.read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]

    def tensor(name, dtype):
        start, end = header[name]["data_offsets"]
        return torch.frombuffer(bytearray(body[start:end]), dtype=dtype).reshape(header[name]["shape"])

    return tensor("input", torch.float32), tensor("label", torch.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="`rmtc dataset synth --recipe classifier --samples 48 --seed 5` output")
    parser.add_argument("--model", default=os.path.join(HERE, "..", "resnet_classifier_synth.pt"))
    parser.add_argument("--out", default=os.path.join(HERE, "resnet_synth_parity.json"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    samples_dir = os.path.join(args.data, "samples")
    names = sorted(os.listdir(samples_dir))
    pairs = [read_sample(os.path.join(samples_dir, n)) for n in names]
    x = torch.stack([p[0] for p in pairs])
    y = torch.stack([p[1] for p in pairs])

    model = torch.jit.load(args.model)
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    orders = rmtc_orders(SEED, len(x))
    epochs = []
    for _ in range(EPOCHS):
        order = next(orders)
        total = 0.0
        for i in range(0, len(order), BATCH):
            batch = order[i:i + BATCH]
            optimiser.zero_grad()
            loss = F.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        model.train()
        epochs.append({"trainLoss": total / len(x), "evalLoss": F.cross_entropy(logits, y).item(),
                       "evalAccuracy": (logits.argmax(1) == y).double().mean().item()})

    state = model.state_dict()
    reference = {
        "generator": "farm/models/testdata/make_parity_reference.py, PyTorch " + torch.__version__,
        "data": {"recipe": "classifier", "samples": len(x), "seed": 5, "inputSum": x.double().sum().item()},
        "training": {"seed": SEED, "epochs": EPOCHS, "batch": BATCH, "learningRate": LR, "momentum": MOMENTUM, "weightDecay": WEIGHT_DECAY},
        "epochs": epochs,
        "finalLogits": logits.flatten().tolist(),
        "buffers": {name: state[name].flatten().tolist() for name in BUFFERS},
    }
    with open(args.out, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
