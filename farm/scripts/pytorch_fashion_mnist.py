#!/usr/bin/python3
"""PyTorch's own side of the Fashion-MNIST comparison (farm/scripts/quality-own-model.sh).

Trains a TorchScript model file (by default farm/models/resnet_classifier.pt, the very file the farm trains, so both
start from the same weights) on Fashion-MNIST from Debian's dataset-fashion-mnist with the optimiser the job spec names,
one shuffled pass per epoch, and prints one JSON line per epoch with the test accuracy on the 10,000 t10k images.
Pixels are scaled to [0, 1] as `rmtc dataset import idx` does. `--shuffle rmtc` visits the training images in exactly
the order `rmtc train --local` does for a job with `seed: SEED` (its SplitMix64 shuffles, written out below), so the two
take the same mini-batches and differ only in floating-point rounding; `--shuffle torch` (the default) draws
`torch.randperm` from `--seed`. `--shards N` trains PyTorch's own FedAvg instead, as the farm documents it: the images
split IID into N shards, each round every shard trains one epoch from the global state with a fresh optimiser, and the
global state becomes the sample-weighted mean of the shards' float tensors (parameters and BatchNorm running
statistics) and the maximum of their integer ones (`num_batches_tracked`); one round per epoch. Run with Debian's
python3-torch. `--evaluate WEIGHTS.safetensors` trains nothing: it loads a trained state (`rmtc train --local --out`, or a
farm run's final weights) into the model and prints its test accuracy as saved and with BatchNorm's running statistics
recomputed for those weights (`--recalibrate` adds the latter to every epoch of a training run too): how much of an
accuracy is the weights and how much the running statistics lagging behind them.

    /usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py --epochs 2 --batch 64 --lr 0.05 --optimizer sgd --momentum 0.9
"""
import argparse
import gzip
import json
import math
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


MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _finalise(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _mix_seed(seed: int, *parts: int) -> int:
    """RMTC.Farm.Core.Planning.SplitMix64.MixSeed."""
    x = _finalise((seed + GOLDEN) & MASK)
    for p in parts:
        x = _finalise(((x * 0xD1342543DE82EF95) & MASK) ^ _finalise((p + GOLDEN) & MASK))
    return x


class SplitMix64:
    """RMTC.Farm.Core.Planning.SplitMix64: the generator behind every shuffle of the farm's training loop."""

    def __init__(self, state: int):
        self.state = state

    def next(self) -> int:
        self.state = (self.state + GOLDEN) & MASK
        return _finalise(self.state)

    def next_int(self, n: int) -> int:
        while True:
            product = self.next() * n
            low = product & MASK
            if low >= n or low >= ((1 << 64) - n) % n:
                return product >> 64

    def shuffle(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.next_int(i + 1)
            items[i], items[j] = items[j], items[i]


def local_seed(job_seed: int) -> int:
    """RMTC.Farm.Core.Planning.RunSeeds.Local: the shuffle seed `rmtc train --local` derives from the job's seed."""
    return _mix_seed(job_seed & MASK, 0x10CA1) >> 1


def rmtc_orders(seed: int, n: int):
    """The epoch orders of the farm's training loop (ShardTrainer.TrainEpoch) for a shuffle seed: epoch e shuffles
    the previous epoch's order in place with SplitMix64.For(seed, e)."""
    order = list(range(n))
    epoch = 0
    while True:
        SplitMix64(_mix_seed(seed & MASK, epoch)).shuffle(order)
        yield torch.tensor(order)
        epoch += 1


def accuracy(model, images, labels, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += (model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    model.train()
    return correct / len(images)


def recalibrated_accuracy(model, train_x, test_x, test_y, passes: int = 60, batch: int = 256) -> float:
    """Test accuracy with every BatchNorm's running statistics recomputed for the current weights: `passes`
    training-mode forward passes over random training batches (momentum 0.1 leaves 0.9**passes of the old
    statistics), then eval mode. The model's state is restored afterwards."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(train_x[torch.randint(0, len(train_x), (batch,), generator=generator)])
    result = accuracy(model, test_x, test_y)
    model.load_state_dict(saved)
    return result


def read_safetensors(path: str) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        state[name] = torch.frombuffer(bytearray(body[start:end]), dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return state


def write_safetensors(path: str, state: dict) -> None:
    """The state as safetensors (F32 and I64, names in order), readable by rmtc and by --evaluate."""
    header, chunks, offset = {}, [], 0
    for name in sorted(state):
        tensor = state[name].detach().contiguous()
        data = tensor.numpy().tobytes()
        header[name] = {"dtype": "I64" if tensor.dtype == torch.int64 else "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(len(encoded).to_bytes(8, "little") + encoded + b"".join(chunks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(HERE, "..", "models", "resnet_classifier.pt"))
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                        help="the job spec's local.learning_rate_schedule: cosine goes from --lr in the first epoch (round) to --final-lr in the last")
    parser.add_argument("--final-lr", type=float, default=None, help="the spec's local.final_learning_rate (default: --lr / 20)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42, help="the job's seed (--shuffle rmtc) or torch's")
    parser.add_argument("--shuffle", choices=["torch", "rmtc"], default="torch")
    parser.add_argument("--shards", type=int, default=1, help="FedAvg over this many IID shards (1: plain training)")
    parser.add_argument("--recalibrate", action="store_true", help="also the accuracy with recomputed running statistics")
    parser.add_argument("--save", metavar="WEIGHTS", help="write the final state here (safetensors)")
    parser.add_argument("--evaluate", metavar="WEIGHTS", help="evaluate a trained state (safetensors) instead of training")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = torch.jit.load(args.model)
    model.train()
    train_x, train_y = load(args.source, "train")
    test_x, test_y = load(args.source, "t10k")
    if args.evaluate:
        model.load_state_dict(read_safetensors(args.evaluate))
        print(json.dumps({"weights": args.evaluate, "accuracy": accuracy(model, test_x, test_y),
                          "accuracyRecalibrated": recalibrated_accuracy(model, train_x, test_x, test_y)}), flush=True)
        return

    def report(epoch: int, loss: float) -> None:
        line = {"epoch": epoch, "trainLoss": loss, "accuracy": accuracy(model, test_x, test_y)}
        if args.recalibrate:
            line["accuracyRecalibrated"] = recalibrated_accuracy(model, train_x, test_x, test_y)
        print(json.dumps({**line, "seconds": time.time() - start}), flush=True)

    def make_optimiser():
        params = list(model.parameters())
        if args.optimizer == "sgd":
            return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
        return torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)

    final_lr = args.final_lr if args.final_lr is not None else args.lr * 0.05

    def lr_for(epoch: int) -> float:
        # LearningRateSchedule.At in RMTC.Farm.Core: changes at epoch (round) boundaries, holds within one.
        if args.lr_schedule == "constant" or args.epochs == 1:
            return args.lr
        progress = (epoch - 1) / (args.epochs - 1)
        return final_lr + (args.lr - final_lr) * (1 + math.cos(math.pi * progress)) / 2

    def set_lr(optimiser, epoch: int):
        for group in optimiser.param_groups:
            group["lr"] = lr_for(epoch)
        return optimiser

    def train_epoch(optimiser, order) -> float:
        total = 0.0
        for i in range(0, len(order), args.batch):
            batch = order[i:i + args.batch]
            optimiser.zero_grad()
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        return total / len(order)

    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    if args.shards > 1:
        shards = torch.randperm(len(train_x)).tensor_split(args.shards)
        for epoch in range(1, args.epochs + 1):
            start_state = {k: v.clone() for k, v in model.state_dict().items()}
            merged, losses = {}, []
            for shard in shards:
                model.load_state_dict(start_state)
                losses.append(train_epoch(set_lr(make_optimiser(), epoch), shard[torch.randperm(len(shard))]) * len(shard))
                for k, v in model.state_dict().items():
                    if v.is_floating_point():
                        merged[k] = merged.get(k, 0) + v.double() * len(shard)
                    else:
                        merged[k] = torch.maximum(merged[k], v) if k in merged else v.clone()
            model.load_state_dict({k: (v / len(train_x)).float() if v.is_floating_point() else v for k, v in merged.items()})
            report(epoch, sum(losses) / len(train_x))
    else:
        optimiser = make_optimiser()
        orders = rmtc_orders(local_seed(args.seed), len(train_x)) if args.shuffle == "rmtc" else None
        for epoch in range(1, args.epochs + 1):
            order = next(orders) if orders is not None else torch.randperm(len(train_x))
            report(epoch, train_epoch(set_lr(optimiser, epoch), order))
    if args.save:
        write_safetensors(args.save, model.state_dict())


if __name__ == "__main__":
    main()
