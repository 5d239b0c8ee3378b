#!/usr/bin/env bash
# The PyTorch example end to end, as CI runs it: train and export the CNN, onboard it with the
# README's add-model line, then evaluate, serve and query it with the figures checked against
# the bounds below (they are the onboarding's acceptance bounds, not tuned to this run).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/pytorch-fashion-mnist/out

"${PYTHON:-/usr/bin/python3}" examples/pytorch-fashion-mnist/train.py --out "$out"
npm run ood -- add-model --name fashion-cnn --onnx "$out/model.onnx" \
  --data "$out/train_x.npy" --labels "$out/train_y.npy" --classes "$out/classes.txt" \
  --test-data "$out/test_x.npy" --test-labels "$out/test_y.npy" --force
npm run check-onboarded -- --model fashion-cnn --partner mnist \
  --max-flag-rate 0.10 --min-auroc mnist=0.98,uniform-noise=0.99 --image-dir "$out/test_images"
