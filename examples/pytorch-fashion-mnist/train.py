#!/usr/bin/env python3
"""A user team's existing model: a small CNN on Fashion-MNIST, trained in PyTorch
and exported to ONNX, plus its training and test data written as files.

Reads Debian's Fashion-MNIST IDX files (package `fashion-mnist`), trains for a
couple of epochs on 2 CPU threads, and writes into --out:

  model.onnx                 input `image` [batch,1,28,28] float32 in [0,1] -> output `logits` [batch,10]
  train_x.npy / train_y.npy  60,000 training images (float32, N x 1 x 28 x 28) and int64 labels
  test_x.npy  / test_y.npy   10,000 test images, same format
  classes.txt                the 10 class names, one per line, in class-index order
  features/{train,test}_{flatten,relu3,logits}.npy
                             the flattened feature maps [N,1568], the hidden layer [N,128] and the
                             logits [N,10], computed by PyTorch: what a model server running the
                             model returns beside its logits, for a features model
  test_images/<class>/*.png  20 test images per class as 28x28 greyscale PNG ("/" in names -> "-")

Usage: python3 train.py [--epochs 2] [--seed 1] [--lr 0.002] [--threads 2] [--out DIR]
"""
import argparse
import gzip
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
PNGS_PER_CLASS = 20


def read_idx(path):
    """Parse a gzip'd IDX file (magic: 0,0,dtype,ndim; big-endian dims) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims} values, found {arr.size}")
    return arr.reshape(dims)


def load_split(prefix):
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (x.astype(np.float32) / 255.0)[:, None, :, :]  # N x 1 x 28 x 28 in [0,1]
    return x, y.astype(np.int64)


def replace_atomically(path, write):
    """Write via a temporary file then rename, so a reader never sees a half-written file."""
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def save_npy(path, arr):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, arr)
    replace_atomically(path, write)


def write_png_gray(path, img_u8):
    """Write a 2-D uint8 array as an 8-bit greyscale PNG using only zlib + struct."""
    h, w = img_u8.shape

    def chunk(tag, payload):
        body = tag + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + img_u8[r].tobytes() for r in range(h))  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit, colour type 0 (grey)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc2(x)  # logits, no softmax


def features(model, x, batch=1000):
    """The flattened maps, the hidden layer and the logits for every row, via forward hooks."""
    seen = {}
    hooks = [
        model.flatten.register_forward_hook(lambda _m, _i, o: seen.__setitem__("flatten", o)),
        model.relu3.register_forward_hook(lambda _m, _i, o: seen.__setitem__("relu3", o)),
    ]
    parts = {"flatten": [], "relu3": [], "logits": []}
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            parts["logits"].append(model(torch.from_numpy(x[i:i + batch])).numpy())
            parts["flatten"].append(seen["flatten"].numpy())
            parts["relu3"].append(seen["relu3"].numpy())
    for h in hooks:
        h.remove()
    return tuple(np.ascontiguousarray(np.concatenate(parts[k]), dtype=np.float32) for k in ("flatten", "relu3", "logits"))


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            pred = model(torch.from_numpy(x[i:i + batch])).argmax(1).numpy()
            correct += int((pred == y[i:i + batch]).sum())
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch CPU threads (on a busy machine 1 can be faster than 2)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")
    print(f"data: train {train_x.shape}, test {test_x.shape}")

    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(train_x), torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(args.seed)

    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), args.batch_size):
            idx = perm[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(xt):.4f}, "
              f"{time.time() - t_train:.1f}s elapsed")
    train_seconds = time.time() - t_train

    acc = accuracy(model, test_x, test_y)
    print(f"test accuracy: {acc:.4f} (training took {train_seconds:.1f}s)")

    # Export to ONNX with a dynamic batch axis.
    model.eval()
    import onnx  # only needed for the check

    def export(tmp):
        torch.onnx.export(
            model, torch.zeros(1, 1, 28, 28), tmp,
            input_names=["image"], output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=13, do_constant_folding=True,
        )
        onnx.checker.check_model(onnx.load(tmp))
    replace_atomically(os.path.join(out, "model.onnx"), export)

    # Data files.
    for name, arr in (("train_x", train_x), ("train_y", train_y), ("test_x", test_x), ("test_y", test_y)):
        save_npy(os.path.join(out, name + ".npy"), arr)

    def write_classes(tmp):
        with open(tmp, "w") as f:
            f.write("\n".join(CLASSES) + "\n")
    replace_atomically(os.path.join(out, "classes.txt"), write_classes)

    # The model as a model server runs it, returning its hidden layers beside its logits: the
    # activations of the flattened feature maps and of the hidden layer, computed by PyTorch, for
    # the service's features model (add-model --features). The raw input is train_x itself.
    feature_dir = os.path.join(out, "features")
    os.makedirs(feature_dir, exist_ok=True)
    for split, x in (("train", train_x), ("test", test_x)):
        flat, hidden, logits = features(model, x)
        for name, arr in (("flatten", flat), ("relu3", hidden), ("logits", logits)):
            save_npy(os.path.join(feature_dir, f"{split}_{name}.npy"), arr)

    # A small image folder: the first 20 test images of each class.
    png_count = 0
    for c, name in enumerate(CLASSES):
        d = os.path.join(out, "test_images", name.replace("/", "-"))
        os.makedirs(d, exist_ok=True)
        for j, i in enumerate(np.flatnonzero(test_y == c)[:PNGS_PER_CLASS]):
            img = np.round(test_x[i, 0] * 255.0).astype(np.uint8)
            write_png_gray(os.path.join(d, f"{j:02d}_test{i:05d}.png"), img)
            png_count += 1

    seconds = time.time() - t_start
    print(f"wrote {out}: model.onnx, train_x.npy, train_y.npy, test_x.npy, test_y.npy, classes.txt, features/, "
          f"test_images/ ({png_count} PNGs); test accuracy {acc:.4f}; {seconds:.1f}s total")
    if acc < 0.88:
        print(f"warning: test accuracy {acc:.4f} is below the 0.88 target", file=sys.stderr)


if __name__ == "__main__":
    main()
