#!/usr/bin/env bash
# The CSV example end to end: a small PyTorch MLP on scikit-learn's bundled 8x8 digits, kept as a
# CSV table; onboarded with the README's CSV add-model line, then served and queried.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/csv-digits-mlp/out

"${PYTHON:-/usr/bin/python3}" examples/csv-digits-mlp/train.py --out "$out"
npm run ood -- add-model --name digits-csv --onnx "$out/model.onnx" \
  --data "$out/digits.csv" --label-column digit --test-data "$out/digits_test.csv" --force
npm run check-onboarded -- --model digits-csv --partner none
