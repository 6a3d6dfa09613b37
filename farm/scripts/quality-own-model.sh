#!/usr/bin/env bash
# Your own model on real data: the ResNet example (farm/models/resnet_classifier.pt, PyTorch, TorchScript) on Fashion-MNIST
# from Debian's dataset-fashion-mnist, trained three ways for the same epochs from the same file's weights:
#   local     `rmtc train --local` (one process, the baseline)
#   farm      a coordinator + 4 agents on this machine, FedAvg over 4 IID shards (1 local epoch per round; FARM_BATCH, MERGE below)
#   pytorch   PyTorch itself (Debian's python3-torch) on the same file, farm/scripts/pytorch_fashion_mnist.py, visiting
#             the images in the local run's order (--shuffle rmtc: the same mini-batches, so the two differ only in
#             floating-point rounding)
# and prints a Markdown table of test accuracy (held-out t10k split, 10,000 images) and wall times. Each final state is
# also evaluated with its BatchNorm running statistics recomputed for its weights (pytorch_fashion_mnist.py --evaluate):
# early in training the running statistics lag the weights, and that column tells the weights apart from the lag.
# Not part of the test suite (minutes of CPU training).
# Usage: farm/scripts/quality-own-model.sh [ROUNDS (default 2)]
#   WORK=dir (default /tmp/rmtc-quality-own-model); BATCH (default 64), LR (default 0.05; SGD, momentum 0.9);
#   LR_SCHEDULE (default constant; cosine: the spec's local.learning_rate_schedule, PyTorch follows the same curve) and
#   FINAL_LR (cosine's last-round rate, default LR / 20);
#   FARM_BATCH (default BATCH / 4) each shard's batch: by default the 4 shards' batches add up to the local run's, so
#   the farm takes as many optimiser steps per epoch as local, each over as many images (data-parallel training's
#   global batch); FARM_BATCH=$BATCH gives each shard the local batch (4 times fewer steps per epoch);
#   MERGE (default nesterov) the farm's merge: fedavg, or nesterov with OUTER_LR (default 1.0) and OUTER_MOMENTUM
#   (default 0.7): FedAvg's mean update applied as an outer Nesterov step (DiLoCo; FedAvg with server momentum);
#   ROUNDS_PER_EPOCH (default 1) the farm merges this many times an epoch (local.rounds_per_epoch: ROUNDS epochs
#   become ROUNDS x N rounds of 1/N epoch each, on the same learning rates; local and PyTorch are unchanged);
#   SEED (default 42) the spec's seed: the order the images are visited in (local, farm, PyTorch --shuffle rmtc);
#   LOCAL_THREADS (default 4) torch threads of the local and PyTorch runs (the farm: 4 agents x 1 thread);
#   TRAIN_SAMPLES (default 60000, all) trains every run on the first N training images only (the test split stays whole);
#   TORCH_RANDPERM=1 adds a PyTorch run in its own order (torch.randperm, seed 42): how far another order lands;
#   TORCH_FEDAVG=1 adds PyTorch's own FedAvg over the same number of IID shards (pytorch_fashion_mnist.py --shards):
#   where FedAvg itself lands, the reference for the farm's gap to local
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"
rounds="${1:-2}"
shards=4
batch="${BATCH:-64}"
lr="${LR:-0.05}"
lr_schedule="${LR_SCHEDULE:-constant}"
final_lr="${FINAL_LR:-$(awk "BEGIN { print $lr / 20 }")}"
threads="${LOCAL_THREADS:-4}"
seed="${SEED:-42}"
farm_batch="${FARM_BATCH:-$(( batch / shards > 0 ? batch / shards : 1 ))}"
merge="${MERGE:-nesterov}"
outer_lr="${OUTER_LR:-1.0}"
outer_momentum="${OUTER_MOMENTUM:-0.7}"
rounds_per_epoch="${ROUNDS_PER_EPOCH:-1}"
case "$merge" in
  fedavg) merge_yaml="{ strategy: fedavg }"; merge_text="FedAvg" ;;
  nesterov) merge_yaml="{ strategy: nesterov, outer_learning_rate: $outer_lr, momentum: $outer_momentum }"; merge_text="FedAvg + Nesterov outer step ($outer_lr, momentum $outer_momentum)" ;;
  *) echo "error: MERGE must be fedavg or nesterov (got '$merge')" >&2; exit 2 ;;
esac
train_samples="${TRAIN_SAMPLES:-60000}"
work="${WORK:-/tmp/rmtc-quality-own-model}"
source_dir=/usr/share/datasets/fashion-mnist
mkdir -p "$work"

sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
[ -d "$source_dir" ] || $sudo_cmd apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
/usr/bin/python3 -c "import torch" 2>/dev/null || $sudo_cmd apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
command -v jq >/dev/null 2>&1 || { echo "error: jq is needed (apt-get install jq)" >&2; exit 2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/RMTC.Farm.Cli -c Release --nologo -v quiet -clp:ErrorsOnly
# Run from a copy, so a rebuild in the tree cannot swap the binaries under running agents.
rm -rf "$work/bin" && cp -r src/RMTC.Farm.Cli/bin/Release/net10.0 "$work/bin"
rmtc=(dotnet "$work/bin/rmtc.dll")

if [ "$train_samples" -lt 60000 ]; then
  # The first N training images (Fashion-MNIST's order is already shuffled across classes), the whole t10k split: the
  # same IDX files for the farm's import and for PyTorch.
  subset="$work/source-$train_samples"
  if [ ! -f "$subset/train-labels-idx1-ubyte.gz" ]; then
    mkdir -p "$subset"
    ln -sf "$source_dir"/t10k-* "$subset/"
    /usr/bin/python3 - "$source_dir" "$subset" "$train_samples" <<'PY'
import gzip, os, struct, sys
source, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name, item in (("train-images-idx3-ubyte.gz", 28 * 28), ("train-labels-idx1-ubyte.gz", 1)):
    data = gzip.open(os.path.join(source, name)).read()
    dims = data[3]
    header = bytearray(data[:4 + 4 * dims])
    struct.pack_into(">I", header, 4, n)
    with gzip.open(os.path.join(out, name), "wb") as f:
        f.write(bytes(header) + data[4 + 4 * dims: 4 + 4 * dims + n * item])
PY
  fi
  source_dir="$subset"
fi

data="$work/fashion-mnist-$train_samples"
if [ ! -f "$data/dataset.yaml" ]; then
  "${rmtc[@]}" dataset import idx "$source_dir" --out "$data" --name fashion-mnist --licence MIT \
    --owner "Zalando Research" --allow cawg.ai_training \
    --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
fi

cat > "$work/job.yaml" <<YAML
name: fashion-resnet
model:
  file: $repo/farm/models/resnet_classifier.pt
  task: labelled-images
  loss: cross_entropy
  licence: Apache-2.0
  origin: farm/models/resnet_classifier.py, randomly initialised (seed 1)
dataset: $data
shards: $shards
rounds: $rounds
seed: $seed
sharding: iid
local: { epochs: 1, batch_size: $batch, learning_rate: $lr, learning_rate_schedule: $lr_schedule, final_learning_rate: $final_lr, optimizer: sgd, momentum: 0.9 }
evaluation: { split: test }
YAML
# The farm's spec: the same, but each shard's batch and the merge.
sed -e "s/batch_size: $batch,/batch_size: $farm_batch,/" "$work/job.yaml" > "$work/farm-job.yaml"
if [ "$rounds_per_epoch" != 1 ]; then
  sed -i -e "s/^rounds: $rounds\$/rounds: $((rounds * rounds_per_epoch))/" -e "s/momentum: 0.9 }/momentum: 0.9, rounds_per_epoch: $rounds_per_epoch }/" "$work/farm-job.yaml"
  merge_text="$merge_text, $rounds_per_epoch rounds an epoch"
fi
echo "merge: $merge_yaml" >> "$work/farm-job.yaml"

echo "== local baseline ($rounds epochs)" >&2
start=$(date +%s.%N)
"${rmtc[@]}" train --local "$work/job.yaml" --threads "$threads" --json --out "$work/local.safetensors" > "$work/local.json"
local_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
local_acc=$(jq '.rounds[-1].evaluation.accuracy' "$work/local.json")

echo "== PyTorch ($rounds epochs)" >&2
start=$(date +%s.%N)
torch_args=(--model farm/models/resnet_classifier.pt --source "$source_dir" --epochs "$rounds" --batch "$batch" --lr "$lr" --lr-schedule "$lr_schedule" --final-lr "$final_lr" --optimizer sgd --momentum 0.9 --threads "$threads" --seed "$seed")
/usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py "${torch_args[@]}" --shuffle rmtc --save "$work/pytorch.safetensors" > "$work/pytorch.jsonl"
torch_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
torch_acc=$(tail -1 "$work/pytorch.jsonl" | jq '.accuracy')
if [ "${TORCH_RANDPERM:-0}" = 1 ]; then
  echo "== PyTorch, its own shuffle ($rounds epochs)" >&2
  start=$(date +%s.%N)
  /usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py "${torch_args[@]}" --shuffle torch > "$work/pytorch-randperm.jsonl"
  randperm_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
  randperm_acc=$(tail -1 "$work/pytorch-randperm.jsonl" | jq '.accuracy')
fi
if [ "${TORCH_FEDAVG:-0}" = 1 ]; then
  echo "== PyTorch FedAvg, $shards IID shards ($rounds rounds)" >&2
  start=$(date +%s.%N)
  /usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py "${torch_args[@]}" --shards "$shards" > "$work/pytorch-fedavg.jsonl"
  fedavg_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
  fedavg_acc=$(tail -1 "$work/pytorch-fedavg.jsonl" | jq '.accuracy')
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
rm -rf "$work/farm"
"${rmtc[@]}" coordinator --data-dir "$work/farm" --port "$port" --metrics-port 0 --opencue-port -1 --lease-timeout-ms 60000 > "$work/coordinator.log" 2>&1 &
pids+=($!)
export RMTC_COORDINATOR="http://127.0.0.1:$port"
for _ in $(seq 1 60); do "${rmtc[@]}" status >/dev/null 2>&1 && break; sleep 1; done
for i in $(seq 1 $shards); do
  "${rmtc[@]}" agent --id "quality-$i" --slots 1 --threads 1 --work-dir "$work/agents/$i" > "$work/agent-$i.log" 2>&1 &
  pids+=($!)
done
echo "== farm, $shards IID shards" >&2
start=$(date +%s.%N)
id=$("${rmtc[@]}" submit "$work/farm-job.yaml" --json | jq -r '.id')
"${rmtc[@]}" watch "$id" >&2
"${rmtc[@]}" status "$id" --json > "$work/farm.json"
farm_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
farm_acc=$(jq '.completedRounds[-1].evalAccuracy' "$work/farm.json")
farm_weights="$work/farm/artifacts/sha256/$(jq -r '.finalModelDigest' "$work/farm.json" | sed 's/^sha256://').safetensors"

echo "== the final states with recomputed BatchNorm statistics" >&2
recalibrated() { /usr/bin/python3 farm/scripts/pytorch_fashion_mnist.py --source "$source_dir" --threads "$threads" --evaluate "$1" | jq '.accuracyRecalibrated'; }
local_re=$(recalibrated "$work/local.safetensors")
farm_re=$(recalibrated "$farm_weights")
torch_re=$(recalibrated "$work/pytorch.safetensors")

pct() { awk "BEGIN { printf \"%.2f\", ($1) * 100 }"; }
echo
echo "Fashion-MNIST ($train_samples training images), farm/models/resnet_classifier.pt, $rounds epochs, batch $batch, SGD lr $lr ($lr_schedule$([ "$lr_schedule" = cosine ] && echo " to $final_lr")) momentum 0.9, test split 10,000 images; local and PyTorch $threads torch threads, farm 4 agents x 1"
echo
echo "| run | shards | epochs | test accuracy | gap to local | with recomputed BN statistics | gap to local | wall time |"
echo "|---|---|---|---|---|---|---|---|"
printf "| local (\`rmtc train --local\`) | 1 | %s | %s %% | | %s %% | | %.0f s |\n" "$rounds" "$(pct "$local_acc")" "$(pct "$local_re")" "$local_wall"
printf "| farm $merge_text, IID, batch $farm_batch per shard | %s | %s | %s %% | %s pp | %s %% | %s pp | %.0f s |\n" "$shards" "$rounds" "$(pct "$farm_acc")" "$(pct "$farm_acc - $local_acc")" \
  "$(pct "$farm_re")" "$(pct "$farm_re - $local_re")" "$farm_wall"
printf "| PyTorch 1.13 (same file, same batches) | 1 | %s | %s %% | %s pp | %s %% | %s pp | %.0f s |\n" "$rounds" "$(pct "$torch_acc")" "$(pct "$torch_acc - $local_acc")" \
  "$(pct "$torch_re")" "$(pct "$torch_re - $local_re")" "$torch_wall"
if [ "${TORCH_RANDPERM:-0}" = 1 ]; then
  printf "| PyTorch 1.13 (same file, torch.randperm order) | 1 | %s | %s %% | %s pp | | | %.0f s |\n" "$rounds" "$(pct "$randperm_acc")" "$(pct "$randperm_acc - $local_acc")" "$randperm_wall"
fi
if [ "${TORCH_FEDAVG:-0}" = 1 ]; then
  printf "| PyTorch 1.13 FedAvg, IID (same file) | %s | %s | %s %% | %s pp | | | %.0f s |\n" "$shards" "$rounds" "$(pct "$fedavg_acc")" "$(pct "$fedavg_acc - $local_acc")" "$fedavg_wall"
fi
echo
echo "Test accuracy after each epoch (round), %:"
echo "  local   $(jq -r '[.rounds[].evaluation.accuracy * 100 | . * 100 | round / 100 | tostring] | join(", ")' "$work/local.json")"
echo "  farm    $(jq -r '[.completedRounds[].evalAccuracy * 100 | . * 100 | round / 100 | tostring] | join(", ")' "$work/farm.json")"
for f in pytorch pytorch-randperm pytorch-fedavg; do
  [ -f "$work/$f.jsonl" ] && echo "  $f $(jq -rs '[.[].accuracy * 100 | . * 100 | round / 100 | tostring] | join(", ")' "$work/$f.jsonl")"
done
