#!/usr/bin/env bash
# Onboards one model once per layer set and evaluates each with check-onboarded, so the AUROCs
# with and without some layers (pooled ones, say) come from one command, side by side.
#
#   bash scripts/compare-layers.sh NAME "CHECK-ONBOARDED ARGS" "LAYERS" ["LAYERS" ...] -- ADD-MODEL ARGS
#
# "default" as a layer set means add-model's own choice. ADD-MODEL ARGS are those of
# `npm run ood -- add-model` without --name and --layers; the model is added as NAME with
# --force, once per set, and left as the last set made it.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 check=$2
shift 2
sets=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do sets+=("$1"); shift; done
[ "${1:-}" = "--" ] || { echo "compare-layers: -- and add-model's arguments are missing" >&2; exit 2; }
shift
for layers in "${sets[@]}"; do
  echo "## layers: $layers"
  if [ "$layers" = "default" ]; then extra=(); else extra=(--layers "$layers"); fi
  LOG_LEVEL=warn npm run -s ood -- add-model --name "$name" --force "${extra[@]}" "$@" | grep -E '^(indexed layers|  |held-out|model accuracy)'
  # Its bounds are none here: every set is reported, whatever it scores.
  # shellcheck disable=SC2086
  LOG_LEVEL=warn npm run -s check-onboarded -- --model "$name" $check || echo "(check-onboarded exited $?)"
  echo
done
