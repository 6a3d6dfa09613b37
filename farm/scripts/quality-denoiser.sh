#!/usr/bin/env bash
# Does the hdr-denoiser denoise real renders, and does the farm train it as well as one machine? Renders procedural
# scenes with Blender's Cycles (render-dataset.sh: seeded; the last HOLDOUT scenes held out), imports them as
# render-pairs with each frame one sample (so the held-out evaluation is on whole frames), trains the same spec twice:
#   local     `rmtc train --local` (one process, one optimiser: the baseline)
#   farm      coordinator + SHARDS agents on this machine, FedAvg over SHARDS shards, equal epochs (rounds x local epochs),
#             and with SERVER_STEP=1 the same with the mean update scaled by SHARDS as a server step (nesterov, momentum 0)
# exports the farm model to ONNX, runs `rmtc infer` on every held-out noisy frame, and prints a Markdown table of PSNR
# against the high-sample render: noisy input, OpenCV non-local means on the tone-mapped image, local model (its
# held-out evaluation: the same frames and the same PSNR), farm model (its evaluation, and through `rmtc infer`).
# PSNR is measured on the tone-mapped beauty, (x / (1 + x))^(1/2.2) per channel, one MSE over all held-out pixels
# (farm/scripts/denoiser_psnr.py; RMTC.Farm.Training.Loop.Psnr). Not part of the test suite (minutes of CPU).
# Usage: farm/scripts/quality-denoiser.sh
#   WORK=dir (default /tmp/rmtc-quality-denoiser; renders are kept there and reused when the render settings match)
#   render: SCENES (48) FRAMES (2) HOLDOUT (6) SIZE (96) LOW (8) HIGH (256) SEED (1)
#   training (defaults: farm/jobs/hdr-denoiser.yaml, 32 x 4 epochs): ROUNDS (32) EPOCHS per round (4) BATCH (2)
#   LR (Adam, 0.001) SCHEDULE (cosine or constant) FINAL_LR (the last round's rate under cosine; default LR / 20)
#   AUGMENT (flip-rotate or none) SHARDS (2) LOCAL_THREADS (1: the CPU share of one of the farm's 1-thread agents; on a
#   busy machine 2 threads ran several times slower)
#   SERVER_STEP=1 adds a farm run with the mean update scaled by SHARDS as a server step (merge: nesterov, momentum 0)
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${WORK:-/tmp/rmtc-quality-denoiser}"
scenes="${SCENES:-48}" frames="${FRAMES:-2}" holdout="${HOLDOUT:-6}" size="${SIZE:-96}"
low="${LOW:-8}" high="${HIGH:-256}" seed="${SEED:-1}"
rounds="${ROUNDS:-32}" epochs="${EPOCHS:-4}" batch="${BATCH:-2}" lr="${LR:-0.001}" shards="${SHARDS:-2}"
schedule="${SCHEDULE:-cosine}" augment="${AUGMENT:-flip-rotate}" server_step="${SERVER_STEP:-0}"
final_lr=""; [ "$schedule" = cosine ] && final_lr=", final_learning_rate: ${FINAL_LR:-$(awk "BEGIN { print $lr / 20 }")}"
mkdir -p "$work"

# Debian's packages: oiiotool reads the multilayer frames for the PSNR script, OpenCV gives the NLM baseline.
missing=()
command -v oiiotool >/dev/null 2>&1 || missing+=(openimageio-tools)
/usr/bin/python3 -c 'import cv2' >/dev/null 2>&1 || missing+=(python3-opencv)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/RMTC.Farm.Cli -c Release --nologo -v quiet -clp:ErrorsOnly
# Run from a copy, so a rebuild in the tree cannot swap the binaries under running agents.
rm -rf "$work/bin" && cp -r src/RMTC.Farm.Cli/bin/Release/net10.0 "$work/bin"
rmtc=(dotnet "$work/bin/rmtc.dll")

renders="$work/renders"
render_args=(--out "$renders" --scenes "$scenes" --frames "$frames" --holdout "$holdout" --size "$size" --low "$low" --high "$high" --seed "$seed")
if [ "$(cat "$renders/.settings" 2>/dev/null)" != "${render_args[*]}" ]; then
  echo "== rendering $((scenes * frames)) frames (${render_args[*]})" >&2
  rm -rf "$renders"
  start=$(date +%s)
  farm/scripts/render-dataset.sh "${render_args[@]}" | tail -n 1 >&2
  echo "rendered in $(( $(date +%s) - start )) s" >&2
  echo "${render_args[*]}" > "$renders/.settings"
fi

data="$work/dataset"
rm -rf "$data"
"${rmtc[@]}" dataset import exr "$renders" --out "$data" --patch "$size" --stride "$size" --licence LicenseRef-procedural \
  --allow cawg.ai_training --allow cawg.ai_generative_training >&2

cat > "$work/job.yaml" <<YAML
name: hdr-quality
recipe: hdr-denoiser
dataset: $data
shards: $shards
rounds: $rounds
seed: 42
local: { epochs: $epochs, batch_size: $batch, learning_rate: $lr, learning_rate_schedule: $schedule$final_lr, augment: $augment }
evaluation: { split: test }
YAML

echo "== local baseline ($((rounds * epochs)) epochs)" >&2
start=$(date +%s.%N)
"${rmtc[@]}" train --local "$work/job.yaml" --threads "${LOCAL_THREADS:-1}" --json > "$work/local.json"
local_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
local_psnr=$(jq '.rounds[-1].evaluation.psnr' "$work/local.json")

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
rm -rf "$work/farm" "$work/agents"
"${rmtc[@]}" coordinator --data-dir "$work/farm" --port "$port" --metrics-port 0 --opencue-port -1 --lease-timeout-ms 60000 > "$work/coordinator.log" 2>&1 &
pids+=($!)
export RMTC_COORDINATOR="http://127.0.0.1:$port"
for _ in $(seq 1 60); do "${rmtc[@]}" status >/dev/null 2>&1 && break; sleep 1; done
for i in $(seq 1 "$shards"); do
  "${rmtc[@]}" agent --id "quality-$i" --slots 1 --threads 1 --work-dir "$work/agents/$i" > "$work/agent-$i.log" 2>&1 &
  pids+=($!)
done

# The same spec with a server step: the mean of the shards' updates times SHARDS (DiLoCo's outer step with no momentum),
# which puts back the optimiser steps FedAvg loses (each shard makes 1/SHARDS of a one-machine epoch's steps).
sed -e 's/^name: hdr-quality/name: hdr-quality-server/' "$work/job.yaml" > "$work/job-server.yaml"
echo "merge: { strategy: nesterov, outer_learning_rate: $shards, momentum: 0 }" >> "$work/job-server.yaml"

farm_run() { # spec -> "run-id evaluation-psnr wall-seconds"
  local start id
  start=$(date +%s.%N)
  id=$("${rmtc[@]}" submit "$1" --json | jq -r '.id')
  "${rmtc[@]}" watch "$id" >&2
  "${rmtc[@]}" status "$id" --json > "$work/$id.json"
  echo "$id $(jq '.completedRounds[-1].evalPsnr' "$work/$id.json") $(awk "BEGIN { print $(date +%s.%N) - $start }")"
}
echo "== farm FedAvg, $shards shards, $rounds rounds x $epochs epochs" >&2
read -r id farm_eval farm_wall < <(farm_run "$work/job.yaml")
if [ "$server_step" = 1 ]; then
  echo "== farm, server step $shards, $shards shards, $rounds rounds x $epochs epochs" >&2
  read -r _ server_eval server_wall < <(farm_run "$work/job-server.yaml")
fi

echo "== rmtc infer on the held-out frames" >&2
"${rmtc[@]}" export "$id" --onnx "$work/farm.onnx" >&2
rm -rf "$work/denoised" && mkdir -p "$work/denoised"
inputs=()
for f in "$renders"/test/noisy/*.exr; do inputs+=(-i "$f"); done
"${rmtc[@]}" infer "$work/farm.onnx" "${inputs[@]}" -o "$work/denoised" >&2
/usr/bin/python3 farm/scripts/denoiser_psnr.py --clean "$renders/test/clean" --noisy "$renders/test/noisy" \
  --model "farm=$work/denoised" --json > "$work/psnr.json"

noisy=$(jq '.noisy' "$work/psnr.json")
nlm=$(jq '.nlm' "$work/psnr.json")
nlm_h=$(jq '.nlm_h' "$work/psnr.json")
farm_infer=$(jq '.models.farm' "$work/psnr.json")
held=$(jq '.frames' "$work/psnr.json")
f2() { awk "BEGIN { printf \"%.2f\", $1 }"; }
signed() { awk "BEGIN { printf \"%+.2f\", $1 }"; }
echo
echo "hdr-denoiser on $held held-out Cycles frames (${size}x${size}, $low spp against $high spp; $((scenes - holdout)) training scenes x $frames frames, seed $seed);"
echo "$rounds rounds x $epochs epochs (= $((rounds * epochs)) epochs), batch $batch, Adam lr $lr ($schedule${final_lr:+ to ${final_lr#, final_learning_rate: }}), augment $augment;"
echo "PSNR of the tone-mapped beauty (x/(1+x))^(1/2.2)"
echo
echo "| | PSNR | vs noisy | wall time |"
echo "|---|---|---|---|"
printf "| noisy input (%s spp) | %s dB | | |\n" "$low" "$(f2 "$noisy")"
printf "| OpenCV NLM on the tone-mapped frame (h=%s, best on these frames) | %s dB | %s dB | |\n" "$nlm_h" "$(f2 "$nlm")" "$(signed "$nlm - $noisy")"
printf "| local (\`rmtc train --local\`, %s threads; held-out evaluation) | %s dB | %s dB | %.0f s |\n" "${LOCAL_THREADS:-1}" "$(f2 "$local_psnr")" "$(signed "$local_psnr - $noisy")" "$local_wall"
printf "| farm FedAvg, %s agents (held-out evaluation) | %s dB | %s dB | %.0f s |\n" "$shards" "$(f2 "$farm_eval")" "$(signed "$farm_eval - $noisy")" "$farm_wall"
printf "| farm FedAvg through \`rmtc infer\` (ONNX, whole frames) | %s dB | %s dB | |\n" "$(f2 "$farm_infer")" "$(signed "$farm_infer - $noisy")"
if [ "$server_step" = 1 ]; then
  printf "| farm, FedAvg mean x %s as a server step (nesterov, momentum 0; held-out evaluation) | %s dB | %s dB | %.0f s |\n" "$shards" "$(f2 "$server_eval")" "$(signed "$server_eval - $noisy")" "$server_wall"
  printf "\nfarm with the server step - local: %s dB" "$(signed "$server_eval - $local_psnr")"
fi
printf "\nfarm FedAvg - local: %s dB; local - NLM: %s dB; farm FedAvg - NLM: %s dB\n" \
  "$(signed "$farm_eval - $local_psnr")" "$(signed "$local_psnr - $nlm")" "$(signed "$farm_eval - $nlm")"
echo "per-round held-out PSNR, local: $(jq -r '[.rounds[].evaluation.psnr | . * 100 | round / 100] | join(" ")' "$work/local.json")"
echo "per-round held-out PSNR, farm:  $(jq -r '[.completedRounds[].evalPsnr | . * 100 | round / 100] | join(" ")' "$work/$id.json")"
