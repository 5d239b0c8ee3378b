#!/usr/bin/env python3
"""A user team's existing model on tabular data: a small MLP on scikit-learn's bundled
8x8 digits (1,797 rows, 64 integer features 0..16, 10 classes), with the data as CSV.

Writes into --out:

  digits.csv       the training part (80%): header pixel_0,...,pixel_63,digit; integer values
  digits_test.csv  the test part (20%), same format
  model.onnx       input `features` [batch,64] float32 of the raw CSV values (0..16) -> output `logits` [batch,10]
                   (the division by 16 happens inside the model)

Needs scikit-learn only for load_digits() (Debian: python3-sklearn); the split is done with numpy.

Usage: python3 train.py [--epochs 60] [--seed 1] [--out DIR]
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Scale(nn.Module):
    """Maps the raw 0..16 pixel counts of the CSV to 0..1."""

    def __init__(self, divisor):
        super().__init__()
        self.divisor = divisor

    def forward(self, x):
        return x / self.divisor


class DigitsMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = Scale(16.0)
        self.fc1 = nn.Linear(64, 32)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(32, 16)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu1(self.fc1(self.scale(x)))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)  # logits, no softmax


def write_csv(path, x, y):
    header = ",".join([f"pixel_{i}" for i in range(x.shape[1])] + ["digit"])
    rows = np.concatenate([x.astype(np.int64), y.astype(np.int64)[:, None]], axis=1)
    tmp = path + ".tmp"
    np.savetxt(tmp, rows, fmt="%d", delimiter=",", header=header, comments="")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # a model this small runs fastest on one thread (no sync overhead)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise SystemExit("scikit-learn is needed for load_digits() (Debian: apt-get install python3-sklearn)") from e
    digits = load_digits()
    x = digits.data.astype(np.float32)  # (1797, 64), integers 0..16
    y = digits.target.astype(np.int64)

    perm = np.random.default_rng(args.seed).permutation(len(x))
    n_test = int(round(len(x) * args.test_fraction))
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    train_x, train_y, test_x, test_y = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    write_csv(os.path.join(out, "digits.csv"), train_x, train_y)
    write_csv(os.path.join(out, "digits_test.csv"), test_x, test_y)
    print(f"data: train {train_x.shape}, test {test_x.shape}")

    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(train_x), torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(args.seed)
    t_train = time.time()
    for _ in range(args.epochs):
        model.train()
        perm_t = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm_t[i:i + 64]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    train_seconds = time.time() - t_train

    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(test_x)).argmax(1).numpy() == test_y).mean())
    print(f"test accuracy: {acc:.4f} (training took {train_seconds:.1f}s)")

    import onnx  # only needed for the check

    model_path = os.path.join(out, "model.onnx")
    tmp = model_path + ".tmp"
    torch.onnx.export(
        model, torch.zeros(1, 64), tmp,
        input_names=["features"], output_names=["logits"],
        dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13, do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, model_path)

    print(f"wrote {out}: digits.csv ({len(train_x)} rows), digits_test.csv ({len(test_x)} rows), model.onnx; "
          f"test accuracy {acc:.4f}; {time.time() - t_start:.1f}s total")
    if acc < 0.93:
        print(f"warning: test accuracy {acc:.4f} is below the 0.93 target")


if __name__ == "__main__":
    main()
