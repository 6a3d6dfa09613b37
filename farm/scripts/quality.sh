#!/usr/bin/env bash
# Does the farm train as well as one machine? Imports Fashion-MNIST from Debian's dataset-fashion-mnist package,
# trains the convnet recipe three ways with the same spec (same seed, data, total epochs = rounds x 1 local epoch):
#   local     `rmtc train --local` (one process, the baseline)
#   iid       the farm: coordinator + 4 agents on this machine, FedAvg over 4 IID shards
#   by-label  the same with shards dealt by class (non-IID; no target, the gap is the known cost)
# and prints a Markdown table of test accuracy (held-out t10k split, 10,000 images), rounds and wall times.
# Not part of the test suite (minutes of CPU training).
# Usage: farm/scripts/quality.sh [ROUNDS (default 8)]
#   WORK=dir keeps the data and runs elsewhere (default /tmp/rmtc-quality); LOCAL_THREADS=n torch threads of the
#   local run (default 4: the farm's 4 agents x 1 thread, so both get the same CPU share on a busy machine);
#   BATCH (default 32) and LR (Adam, default 0.003) of the job spec, the same for every run
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-8}"
shards=4
work="${WORK:-/tmp/rmtc-quality}"
source_dir=/usr/share/datasets/fashion-mnist
mkdir -p "$work"

if [ ! -d "$source_dir" ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
fi
command -v jq >/dev/null 2>&1 || { echo "error: jq is needed (apt-get install jq)" >&2; exit 2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/RMTC.Farm.Cli -c Release --nologo -v quiet -clp:ErrorsOnly
# Run from a copy, so a rebuild in the tree cannot swap the binaries under running agents.
rm -rf "$work/bin" && cp -r src/RMTC.Farm.Cli/bin/Release/net10.0 "$work/bin"
rmtc=(dotnet "$work/bin/rmtc.dll")

data="$work/fashion-mnist"
if [ ! -f "$data/dataset.yaml" ]; then
  "${rmtc[@]}" dataset import idx "$source_dir" --out "$data" --name fashion-mnist --licence MIT \
    --owner "Zalando Research" --allow cawg.ai_training \
    --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
fi

job() { # name sharding
  cat > "$work/$1.yaml" <<YAML
name: fashion-$1
recipe: convnet
dataset: $data
shards: $shards
rounds: $rounds
seed: 42
sharding: $2
local: { epochs: 1, batch_size: ${BATCH:-32}, learning_rate: ${LR:-0.003} }
evaluation: { split: test }
YAML
}
job iid iid
job by-label by-label

echo "== local baseline ($rounds epochs)"
start=$(date +%s.%N)
"${rmtc[@]}" train --local "$work/iid.yaml" --threads "${LOCAL_THREADS:-4}" --json > "$work/local.json"
local_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
local_acc=$(jq '.rounds[-1].evaluation.accuracy' "$work/local.json")

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
rm -rf "$work/farm"
"${rmtc[@]}" coordinator --data-dir "$work/farm" --port "$port" --metrics-port 0 --lease-timeout-ms 60000 > "$work/coordinator.log" 2>&1 &
pids+=($!)
export RMTC_COORDINATOR="http://127.0.0.1:$port"
for _ in $(seq 1 60); do "${rmtc[@]}" status >/dev/null 2>&1 && break; sleep 1; done
for i in $(seq 1 $shards); do
  "${rmtc[@]}" agent --id "quality-$i" --slots 1 --threads 1 --work-dir "$work/agents/$i" > "$work/agent-$i.log" 2>&1 &
  pids+=($!)
done

farm_run() { # name -> "accuracy wall"
  local start id
  start=$(date +%s.%N)
  id=$("${rmtc[@]}" submit "$work/$1.yaml" --json | jq -r '.id')
  "${rmtc[@]}" watch "$id" >&2
  "${rmtc[@]}" status "$id" --json > "$work/$1.json"
  echo "$(jq '.completedRounds[-1].evalAccuracy' "$work/$1.json") $(awk "BEGIN { print $(date +%s.%N) - $start }")"
}
echo "== farm, $shards IID shards" >&2
read -r iid_acc iid_wall < <(farm_run iid)
echo "== farm, $shards by-label shards" >&2
read -r label_acc label_wall < <(farm_run by-label)

pct() { awk "BEGIN { printf \"%.2f\", ($1) * 100 }"; }
echo
echo "Fashion-MNIST, convnet, $rounds rounds x 1 local epoch (= $rounds epochs), batch ${BATCH:-32}, Adam lr ${LR:-0.003}, test split 10,000 images; local run ${LOCAL_THREADS:-4} torch threads, farm 4 agents x 1"
echo
echo "| run | shards | rounds | test accuracy | gap to local | wall time |"
echo "|---|---|---|---|---|---|"
printf "| local (\`rmtc train --local\`) | 1 | %s | %s %% | | %.0f s |\n" "$rounds" "$(pct "$local_acc")" "$local_wall"
printf "| farm FedAvg, IID | %s | %s | %s %% | %s pp | %.0f s |\n" "$shards" "$rounds" "$(pct "$iid_acc")" "$(pct "$iid_acc - $local_acc")" "$iid_wall"
printf "| farm FedAvg, by label | %s | %s | %s %% | %s pp | %.0f s |\n" "$shards" "$rounds" "$(pct "$label_acc")" "$(pct "$label_acc - $local_acc")" "$label_wall"
