#!/usr/bin/env python3
"""The Python anchor of `npm run bench`: a plain Deep-kNN service, as a team might write one in an
afternoon, to measure ood-service against on the same machine, model and load.

FastAPI + uvicorn (one worker), the tfjs model's dense layers as a numpy forward pass, one hnswlib
graph per layer (the raw input and every hidden layer, L2-normalised rows, M = 16,
ef_construction = 200, ef = 100), k nearest neighbours per layer, DkNN's label nonconformity
(neighbours that disagree with the predicted class, summed over layers) and a p-value looked up
in the calibration scores. Only Debian packages: python3-fastapi, python3-uvicorn,
python3-numpy, python3-hnswlib.

Usage: python_anchor.py --model-dir models/mnist --data-dir DIR --port N [--k 75] [--significance 0.05]
DIR holds train_x.npy, train_y.npy and cal_x.npy (float32 rows, int32 labels), written by
the benchmark from the reference set's split.
"""
import argparse
import json
import os

import hnswlib
import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def load_dense_layers(model_dir):
    """(kernel, bias) of each Dense layer, in graph order, read from tfjs's model.json and weights.bin."""
    with open(os.path.join(model_dir, "model.json")) as f:
        topology = json.load(f)
    blob = np.fromfile(os.path.join(model_dir, "weights.bin"), dtype=np.float32)
    weights, offset = {}, 0
    for group in topology["weightsManifest"]:
        for spec in group["weights"]:
            size = int(np.prod(spec["shape"]))
            weights[spec["name"]] = blob[offset:offset + size].reshape(spec["shape"])
            offset += size
    layers = []
    for layer in topology["modelTopology"]["config"]["layers"]:
        if layer["class_name"] == "Dense":
            name = layer["config"]["name"]
            layers.append((weights[f"{name}/kernel"], weights[f"{name}/bias"]))
    return layers


def forward(layers, x):
    """Activations of the raw input and every hidden layer, and the class probabilities."""
    acts, h = [x], x
    for kernel, bias in layers[:-1]:
        h = np.maximum(h @ kernel + bias, 0.0)
        acts.append(h)
    logits = h @ layers[-1][0] + layers[-1][1]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return acts, probs


def normalise(a):
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(norms, 1e-12)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--k", type=int, default=75)
    parser.add_argument("--significance", type=float, default=0.05)
    args = parser.parse_args()
    k = args.k

    layers = load_dense_layers(args.model_dir)
    load = lambda name: np.load(os.path.join(args.data_dir, name))
    train_x, train_y, cal_x = load("train_x.npy"), load("train_y.npy"), load("cal_x.npy")
    train_acts, _ = forward(layers, train_x)
    indexes = []
    for acts in train_acts:
        index = hnswlib.Index(space="l2", dim=acts.shape[1])
        index.init_index(max_elements=acts.shape[0], ef_construction=200, M=16, random_seed=100)
        index.add_items(normalise(acts))
        index.set_ef(100)
        indexes.append(index)

    def nonconformity(acts, predicted):
        score = np.zeros(len(predicted))
        counts = []
        for index, a in zip(indexes, acts):
            ids, _ = index.knn_query(normalise(a), k=k)
            agree = (train_y[ids] == predicted[:, None]).sum(axis=1)
            counts.append(agree)
            score += k - agree
        return score, counts

    cal_acts, cal_probs = forward(layers, cal_x)
    cal_scores = np.sort(nonconformity(cal_acts, cal_probs.argmax(axis=1))[0])
    n_cal = len(cal_scores)

    app = FastAPI()

    @app.get("/readyz")
    def ready():
        return {"status": "ready"}

    @app.post("/predict")
    async def predict(request: Request):
        body = json.loads(await request.body())
        x = np.asarray(body["instances"], dtype=np.float32).reshape(len(body["instances"]), -1)
        acts, probs = forward(layers, x)
        predicted = probs.argmax(axis=1)
        scores, counts = nonconformity(acts, predicted)
        # p = (#calibration scores >= score + 1) / (n + 1)
        p = (n_cal - np.searchsorted(cal_scores, scores, side="left") + 1) / (n_cal + 1)
        predictions = [
            {
                "label": str(int(predicted[i])),
                "probabilities": probs[i].tolist(),
                "outlier_score": float(1 - p[i]),
                "is_outlier": bool(p[i] <= args.significance),
                "in_class_neighbors": [int(c[i]) for c in counts],
            }
            for i in range(len(predicted))
        ]
        return JSONResponse({"predictions": predictions})

    uvicorn.run(app, host="127.0.0.1", port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
