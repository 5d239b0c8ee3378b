#!/usr/bin/env bash
# The PyTorch example end to end, as CI runs it: train and export the CNN, onboard it with the
# README's add-model line, then evaluate, serve and query it with the figures checked against
# the bounds below (they are the onboarding's acceptance bounds, not tuned to this run).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/pytorch-fashion-mnist/out
# Graphs built on one thread come out the same every time, so the in-process model and the
# features model below differ only in what their layers were computed with.
export OOD_BUILD_THREADS=1

"${PYTHON:-/usr/bin/python3}" examples/pytorch-fashion-mnist/train.py --out "$out"
npm run ood -- add-model --name fashion-cnn --onnx "$out/model.onnx" \
  --data "$out/train_x.npy" --labels "$out/train_y.npy" --classes "$out/classes.txt" \
  --test-data "$out/test_x.npy" --test-labels "$out/test_y.npy" --force
npm run check-onboarded -- --model fashion-cnn --partner mnist \
  --max-flag-rate 0.10 --min-auroc mnist=0.98,uniform-noise=0.99 --image-dir "$out/test_images"

# The same model beside a model server: export-features writes the file the server would run,
# add-model --features onboards the layers PyTorch computed (train.py wrote them), and the
# service fed the exported file's outputs must score as the in-process model does. PyTorch and
# onnxruntime compute the layers to within float rounding, so a few reference vectors differ in
# their last bits: the bounds allow a twentieth of the rows a p-value moved by at most 0.01,
# never a label changed (acceptance bounds, not this run's figures).
npm run ood -- export-features --onnx "$out/model.onnx" --out "$out/model-with-features.onnx"
features="input:raw=$out/train_x.npy,/flatten/Flatten_output_0=$out/features/train_flatten.npy,/relu3/Relu_output_0=$out/features/train_relu3.npy"
test_features="input:raw=$out/test_x.npy,/flatten/Flatten_output_0=$out/features/test_flatten.npy,/relu3/Relu_output_0=$out/features/test_relu3.npy,logits=$out/features/test_logits.npy"
npm run ood -- add-model --name fashion-cnn-features --features "$features" --logits "$out/features/train_logits.npy" \
  --labels "$out/train_y.npy" --classes "$out/classes.txt" --test-data "$test_features" --test-labels "$out/test_y.npy" --force
npm run check-features -- --model fashion-cnn --features-model fashion-cnn-features \
  --exported "$out/model-with-features.onnx" --data "$out/test_x.npy" --rows 500 --min-exact-share 0.95 --max-gap 0.01
