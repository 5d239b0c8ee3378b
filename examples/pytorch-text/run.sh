#!/usr/bin/env bash
# The text example end to end, as CI runs it: build the corpus and train and export the model,
# onboard it with the README's text add-model line, then evaluate it against its near and far
# OOD sets, serve it and send it a string. The bounds are the example's acceptance bounds: the
# share of held-out texts flagged, and a near-OOD AUROC above chance, so that a broken pipeline
# fails; docs/onboarding.md reports what the scores are, and what bounds them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/pytorch-text/out

"${PYTHON:-/usr/bin/python3}" examples/pytorch-text/train.py --out "$out"
npm run ood -- add-model --name manpages --onnx "$out/model.onnx" --tokenizer "$out/tokenizer.json" \
  --data "$out/train.csv" --text-column text --label-column label --classes "$out/classes.txt" \
  --test-data "$out/test.csv" --force
npm run check-onboarded -- --model manpages --partner none \
  --ood-texts "near=$out/ood_near.txt,far=$out/ood_far.txt,far-short=$out/ood_far_short.txt" \
  --max-flag-rate 0.12 --min-auroc near=0.53
