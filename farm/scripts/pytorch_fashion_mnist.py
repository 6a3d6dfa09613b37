#!/usr/bin/python3
"""PyTorch's own side of the Fashion-MNIST comparison (farm/scripts/quality-own-model.sh).

Trains a TorchScript model file (by default farm/models/resnet_classifier.pt, the very file the farm trains, so both
start from the same weights) on Fashion-MNIST from Debian's dataset-fashion-mnist with the optimiser the job spec names,
one shuffled pass per epoch, and prints one JSON line per epoch with the test accuracy on the 10,000 t10k images.
Pixels are scaled to [0, 1] as `rmtc dataset import idx` does. Run with Debian's python3-torch:

    /usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py --epochs 2 --batch 64 --lr 0.05 --optimizer sgd --momentum 0.9
"""
import argparse
import gzip
import json
import os
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


def idx(path: str) -> torch.Tensor:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def load(source: str, split: str):
    images = idx(os.path.join(source, f"{split}-images-idx3-ubyte.gz")).float().div_(255).unsqueeze(1)
    labels = idx(os.path.join(source, f"{split}-labels-idx1-ubyte.gz")).long()
    return images, labels


def accuracy(model, images, labels, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += (model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    model.train()
    return correct / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(HERE, "..", "models", "resnet_classifier.pt"))
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = torch.jit.load(args.model)
    model.train()
    train_x, train_y = load(args.source, "train")
    test_x, test_y = load(args.source, "t10k")
    params = list(model.parameters())
    if args.optimizer == "sgd":
        optimiser = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        optimiser = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(train_x))
        total = 0.0
        for i in range(0, len(order), args.batch):
            batch = order[i:i + args.batch]
            optimiser.zero_grad()
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(json.dumps({"epoch": epoch, "trainLoss": total / len(order), "accuracy": accuracy(model, test_x, test_y),
                          "seconds": time.time() - start}), flush=True)


if __name__ == "__main__":
    main()
