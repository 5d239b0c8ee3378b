#!/usr/bin/env python3
"""A user team's existing text classifier: a small transformer encoder that tells which
manual-page section a one-line man-page description belongs to, trained in PyTorch and
exported to ONNX with a Hugging Face `tokenizer.json`, plus its data written as files.

The corpus is built from this machine: `apropos -l .` (man-db) lists every installed manual
page as `name (section) - description`. The text is the description alone; the label is the
section's leading digit, and four sections are the model's classes:

  1 user-commands   2 system-calls   3 library-calls   8 admin-commands

Subsections fold into their digit (1ssl -> 1, 3pm/3perl/3ssl/3type/3const/... -> 3). Every
other section (4 devices, 5 file formats, 6 games, 7 overviews/conventions/SQL commands/
OpenSSL topics, ...) is held out of training entirely and becomes the *near* OOD set: the same
kind of text, classes the model never saw. The *far* OOD set is sentences of the licence texts
in /usr/share/common-licenses (legal prose, not one-line summaries). Pages without a
description ("(unknown subject)", e.g. the thousands of gcloud subcommand pages) are dropped.
Texts are deduplicated case- and whitespace-insensitively; a text listed under two training
classes is dropped as ambiguous, and a near-OOD text that is also a training-class text is
dropped from the near set. The train/test split is stratified and seeded.

Writes into --out:

  model.onnx                    inputs `input_ids`, `attention_mask` int64 [batch, T] (T fixed,
                                batch dynamic) -> output `logits` float32 [batch, C]; named
                                intermediate values `embeddings`, `encoder_layer_0`,
                                `encoder_layer_1` [batch, T, 64], `pooled` [batch, 64],
                                `penultimate` [batch, 64]
  tokenizer.json                Hugging Face tokenizer: Lowercase normalizer, Whitespace
                                pre-tokenizer, WordLevel model ([PAD]=0, [UNK]=1), truncation and
                                padding to T
  tokenizer_config.json         unk/pad tokens and model_max_length (tokenizers.js reads unk_token here)
  classes.txt                   the C class names, one per line, in logit order
  train.csv / train.jsonl       training split, columns/fields `text`, `label` (a class name)
  test.csv  / test.jsonl        test split, same format
  ood_near.txt / ood_near.jsonl held-out-section descriptions, one text per line / {"text": ...}
  ood_far.txt  / ood_far.jsonl  licence sentences, same format
  ood_far_short.txt             the licence sentences cut to their first 6 words, about the length
                                of a description: what the far set scores with its length taken away
  input_ids.npy, attention_mask.npy, labels.npy
                                the training split tokenized and padded (int64 [N, T], [N, T], [N])
  test_input_ids.npy, test_attention_mask.npy, test_labels.npy, test_logits.npy
                                the test split, same format, plus PyTorch's float32 logits [N, C]
  ood_near_input_ids.npy, ood_near_attention_mask.npy, ood_far_input_ids.npy, ood_far_attention_mask.npy
                                the OOD sets tokenized the same way

Tokenization (what @huggingface/tokenizers does with tokenizer.json, checked id for id; the Rust
`tokenizers` library's Unicode \\w would split words with non-ASCII letters differently): the
literal special tokens "[PAD]"/"[UNK]" are split out of the raw text first; each remaining piece
is lowercased (str.lower) and split by the regex `\\w+|[^\\w\\s]+` with
JavaScript's (non-Unicode-mode) classes: \\w = [A-Za-z0-9_], \\s = JS whitespace; then words
map to vocabulary ids, unknown words to [UNK]=1, the sequence is truncated on the right to T and
padded on the right with [PAD]=0 (attention_mask 0).

Usage: python3 train.py [--epochs 15] [--seed 1] [--seq-len 32] [--threads 2] [--out DIR]
"""
import argparse
import collections
import csv
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

import warnings

# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning made 2 threads
# about 8x slower than 1 for this small model (must be set before torch loads libgomp).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Section digit -> class name, in the model's output order.
CLASSES = [("1", "user-commands"), ("2", "system-calls"), ("3", "library-calls"), ("8", "admin-commands")]
NO_DESCRIPTION = "(unknown subject)"
LICENSE_DIR = "/usr/share/common-licenses"
PAD, UNK = "[PAD]", "[UNK]"
SPECIAL_TOKENS = [PAD, UNK]  # ids 0 and 1

# The Whitespace pre-tokenizer's regex \w+|[^\w\s]+ as @huggingface/tokenizers runs it: a
# JavaScript RegExp without the `u` flag, so \w is ASCII-only and \s is JavaScript's whitespace set.
_JS_SPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
WORD_RE = re.compile(r"[A-Za-z0-9_]+|[^A-Za-z0-9_" + _JS_SPACE + r"]+")
SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
APROPOS_RE = re.compile(r"^(\S.*?) \(([0-9][^)]*)\)\s+- (.*)$")


# Words kept of each far-OOD sentence for ood_far_short.txt: about a description's length.
SHORT_WORDS = 6

def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- corpus


def clean(text):
    """One line, single spaces: texts are written one per line."""
    return " ".join(text.split())


def dedup_key(text):
    return clean(text).lower()


def read_apropos():
    """Return [(name, section, description)] for every installed manual page."""
    if shutil.which("apropos") is None:
        fail("`apropos` not found: this example builds its corpus from man-db (apt-get install man-db)")
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="1000")
    proc = subprocess.run(["apropos", "-l", "."], capture_output=True, text=True, env=env,
                          errors="replace")
    rows, unparsed = [], 0
    for line in proc.stdout.splitlines():
        m = APROPOS_RE.match(line)
        if m:
            rows.append(m.groups())
        elif line.strip():
            unparsed += 1
    if len(rows) < 1000:
        fail(f"`apropos -l .` listed only {len(rows)} manual pages (exit code {proc.returncode}; "
             f"{proc.stderr.strip()[:200]!r}). The man-db index is missing or the image strips man "
             "pages (see /etc/dpkg/dpkg.cfg.d/); install man pages and run `mandb`.")
    print(f"apropos: {len(rows)} manual pages ({unparsed} unparsed lines skipped)")
    return rows


def build_man_sets(rows):
    """Deduplicated in-distribution examples {key: (text, class index)} and near-OOD texts {key: text}."""
    class_of_digit = {d: i for i, (d, _) in enumerate(CLASSES)}
    sections_of = collections.defaultdict(set)
    text_of = {}
    no_desc = 0
    for name, section, desc in sorted(rows, key=lambda r: (r[2], r[1], r[0])):
        text = clean(desc)
        if not text or text == NO_DESCRIPTION:
            no_desc += 1
            continue
        key = dedup_key(text)
        sections_of[key].add(section[0])
        text_of.setdefault(key, text)
    in_dist, near, ambiguous, overlap = {}, {}, 0, 0
    for key in sorted(sections_of):
        digits = sections_of[key]
        classes = {class_of_digit[d] for d in digits if d in class_of_digit}
        if len(classes) > 1:
            ambiguous += 1
        elif len(classes) == 1:
            in_dist[key] = (text_of[key], classes.pop())
            if len(digits) > 1:
                overlap += 1  # also under a held-out section: kept only in-distribution
        else:
            near[key] = text_of[key]
    print(f"man pages: {no_desc} without a description dropped; {len(sections_of)} distinct texts; "
          f"{ambiguous} listed under two training classes dropped; {overlap} shared with held-out "
          f"sections kept in-distribution only")
    return in_dist, near


def split_sentences(text):
    """Paragraphs joined, then split after . ! ? ; : when the next sentence starts with a capital/digit/( or \"."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = clean(para)
        for s in re.split(r"(?<=[.!?;:])\s+(?=[A-Z0-9(\"])", para):
            s = s.strip()
            if len(s.split()) >= 4 and re.search(r"[A-Za-z]{3}", s):
                out.append(s)
    return out


def read_far_ood():
    """Licence sentences from /usr/share/common-licenses, deduplicated (symlinks read once)."""
    files = sorted({os.path.realpath(p) for p in glob.glob(os.path.join(LICENSE_DIR, "*")) if os.path.isfile(p)})
    if not files:
        fail(f"no licence texts in {LICENSE_DIR} (package base-files) for the far OOD set")
    seen, texts = set(), []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for s in split_sentences(f.read()):
                key = dedup_key(s)
                if key not in seen:
                    seen.add(key)
                    texts.append(s)
    print(f"far OOD: {len(texts)} distinct sentences from {len(files)} licence files in {LICENSE_DIR}")
    if len(texts) < 500:
        print(f"warning: only {len(texts)} far OOD sentences (wanted >= 500)", file=sys.stderr)
    return sorted(texts)


def stratified_split(in_dist, test_fraction, seed):
    rng = random.Random(seed)
    by_class = collections.defaultdict(list)
    for key in sorted(in_dist):
        by_class[in_dist[key][1]].append(in_dist[key])
    train, test = [], []
    for c in sorted(by_class):
        items = by_class[c]
        rng.shuffle(items)
        n_test = int(round(len(items) * test_fraction))
        test += items[:n_test]
        train += items[n_test:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


# ---------------------------------------------------------------- tokenizer


def pre_tokenize(text):
    """Token strings exactly as tokenizer.json (run by @huggingface/tokenizers) produces them."""
    tokens = []
    for piece in SPECIAL_RE.split(text):
        if piece in SPECIAL_TOKENS:
            tokens.append(piece)
        elif piece:
            tokens += WORD_RE.findall(piece.lower())
    return tokens


def build_vocab(texts, min_freq, max_size):
    counts = collections.Counter(t for text in texts for t in pre_tokenize(text))
    words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if n >= min_freq and w not in SPECIAL_TOKENS]
    words = words[:max_size - len(SPECIAL_TOKENS)]
    return {w: i for i, w in enumerate(SPECIAL_TOKENS + words)}


def encode(texts, vocab, seq_len):
    ids = np.zeros((len(texts), seq_len), dtype=np.int64)  # [PAD] = 0
    mask = np.zeros((len(texts), seq_len), dtype=np.int64)
    unk = vocab[UNK]
    n_unk = n_tok = n_trunc = 0
    for r, text in enumerate(texts):
        toks = pre_tokenize(text)
        n_trunc += len(toks) > seq_len
        toks = toks[:seq_len]
        row = [vocab.get(t, unk) for t in toks]
        ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
        n_unk += sum(i == unk for i in row)
        n_tok += len(row)
    return ids, mask, {"unk_rate": n_unk / max(n_tok, 1), "truncated": n_trunc}


def tokenizer_json(vocab, seq_len):
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": seq_len, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": seq_len}, "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": vocab[PAD], "pad_type_id": 0, "pad_token": PAD},
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIAL_TOKENS
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK},
    }


def tokenizer_config_json(seq_len):
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": UNK,
        "pad_token": PAD,
        "model_max_length": seq_len,
        "padding_side": "right",
        "truncation_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }


# ---------------------------------------------------------------- model


class Embeddings(nn.Module):
    def __init__(self, vocab_size, seq_len, d_model, dropout):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.position = nn.Parameter(torch.randn(1, seq_len, d_model) * 0.02)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids):
        return self.dropout(self.norm(self.token(input_ids) + self.position))


class SelfAttention(nn.Module):
    """Multi-head self-attention with plain matmuls (exports to MatMul/Softmax, no fused ops)."""

    def __init__(self, seq_len, d_model, heads, dropout):
        super().__init__()
        self.seq_len, self.heads, self.d_head = seq_len, heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask_bias):
        T, H, Dh = self.seq_len, self.heads, self.d_head
        qkv = self.qkv(x).reshape(-1, T, 3, H, Dh).permute(2, 0, 3, 1, 4)  # 3, B, H, T, Dh
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q, k.transpose(-2, -1)) * (Dh ** -0.5) + mask_bias  # B, H, T, T
        att = self.dropout(torch.softmax(scores, dim=-1))
        out = torch.matmul(att, v).transpose(1, 2).reshape(-1, T, H * Dh)
        return self.proj(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer block: x = LN(x + attn(x)); x = LN(x + ff(x))."""

    def __init__(self, seq_len, d_model, heads, d_ff, dropout):
        super().__init__()
        self.attn = SelfAttention(seq_len, d_model, heads, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask_bias):
        x = self.norm1(x + self.dropout(self.attn(x, mask_bias)))
        return self.norm2(x + self.dropout(self.ff(x)))


class MaskedMeanPool(nn.Module):
    def forward(self, x, attention_mask):
        m = attention_mask.to(x.dtype).unsqueeze(-1)  # B, T, 1
        return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class TextClassifier(nn.Module):
    def __init__(self, vocab_size, seq_len, n_classes, d_model=64, heads=4, d_ff=128, layers=2,
                 hidden=64, dropout=0.1):
        super().__init__()
        self.embed = Embeddings(vocab_size, seq_len, d_model, dropout)
        self.layers = nn.ModuleList(EncoderLayer(seq_len, d_model, heads, d_ff, dropout) for _ in range(layers))
        self.pool = MaskedMeanPool()
        self.hidden = nn.Linear(d_model, hidden)
        self.act = nn.ReLU()  # its output is the "penultimate" representation
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, input_ids, attention_mask):
        # 0 where a token may be attended to, -1e4 at padding (finite, so an all-padding row stays finite)
        mask_bias = (1.0 - attention_mask.to(torch.float32)).unsqueeze(1).unsqueeze(2) * -10000.0
        x = self.embed(input_ids)
        for layer in self.layers:
            x = layer(x, mask_bias)
        h = self.act(self.hidden(self.pool(x, attention_mask)))
        return self.out(self.dropout(h))  # logits, no softmax


def predict(model, ids, mask, batch=512):
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            outs.append(model(torch.from_numpy(ids[i:i + batch]), torch.from_numpy(mask[i:i + batch])))
    return torch.cat(outs).numpy()


# ---------------------------------------------------------------- ONNX


def name_onnx_values(model_proto, n_layers):
    """Give the interesting intermediate values stable names, found by the exporter's module scopes
    (torch >= 1.13 names nodes like /layers.0/norm2/Add_1): a scope's output is the value its nodes
    produce that a node outside the scope consumes."""
    graph = model_proto.graph
    scopes = {"/embed/": "embeddings", "/pool/": "pooled", "/act/": "penultimate"}
    scopes.update({f"/layers.{i}/": f"encoder_layer_{i}" for i in range(n_layers)})
    renames = {}
    for prefix, new in scopes.items():
        inside = [n for n in graph.node if n.name.startswith(prefix) and n.op_type != "Constant"]
        produced = {o for n in inside for o in n.output}
        used_outside = {i for n in graph.node if not n.name.startswith(prefix) for i in n.input}
        outs = sorted(produced & used_outside)
        if len(outs) != 1:
            print(f"warning: could not name {new!r}: scope {prefix} has outputs {outs}", file=sys.stderr)
            continue
        renames[outs[0]] = new
    for n in graph.node:
        n.input[:] = [renames.get(i, i) for i in n.input]
        n.output[:] = [renames.get(o, o) for o in n.output]
    for vi in graph.value_info:
        vi.name = renames.get(vi.name, vi.name)
    return renames


def export_onnx(model, path, seq_len, n_layers, opset):
    import onnx
    from onnx import shape_inference

    model.eval()
    dummy = (torch.ones(2, seq_len, dtype=torch.int64), torch.ones(2, seq_len, dtype=torch.int64))
    tmp_raw = path + ".raw.tmp"
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    torch.onnx.export(
        model, dummy, tmp_raw,
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=True,
    )
    proto = onnx.load(tmp_raw)
    os.remove(tmp_raw)
    name_onnx_values(proto, n_layers)
    # Re-infer intermediate shapes with ONNX's own inference, then call every unknown dimension
    # "batch": T is fixed, so the batch is the graph's only free dimension (the Reshape(-1, T, ...)
    # in the attention hides that from the inference, which invents names like unk__0).
    del proto.graph.value_info[:]
    proto = shape_inference.infer_shapes(proto)
    for vi in proto.graph.value_info:
        for d in vi.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_param = "batch"
    onnx.checker.check_model(proto)

    def write(tmp):
        onnx.save(proto, tmp)
    replace_atomically(path, write)

    def shape(vi):
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    values = {vi.name: shape(vi) for vi in list(proto.graph.value_info) + list(proto.graph.output)}
    named = ["embeddings"] + [f"encoder_layer_{i}" for i in range(n_layers)] + ["pooled", "penultimate", "logits"]
    return {k: values.get(k) for k in named}


def check_with_onnxruntime(path, ids, mask, expected):
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not importable in Python: ONNX-vs-PyTorch check skipped "
              "(test_logits.npy holds PyTorch's logits for the test split to compare against)")
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    diff = float(np.abs(got - expected).max())
    print(f"onnxruntime: max |logit difference| vs PyTorch on {len(ids)} test rows = {diff:.2e}")
    if diff > 1e-4:
        fail("ONNX logits differ from PyTorch's")


# ---------------------------------------------------------------- files


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


def save_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    replace_atomically(path, write)


def save_json(path, obj, indent=None):
    save_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def save_csv(path, rows):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["text", "label"])
            w.writerows(rows)
    replace_atomically(path, write)


def save_jsonl(path, objs):
    save_text(path, "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs))


def save_lines(path, texts):
    assert all(t and "\n" not in t and "\r" not in t for t in texts)
    save_text(path, "".join(t + "\n" for t in texts))


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--seq-len", type=int, default=32, help="T: tokens per text after truncation/padding")
    ap.add_argument("--min-freq", type=int, default=2, help="a word enters the vocabulary if seen this often in training texts")
    ap.add_argument("--max-vocab", type=int, default=8000)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch CPU threads (on a busy machine 1 can be faster than 2)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    T = args.seq_len
    class_names = [name for _, name in CLASSES]

    # Corpus.
    in_dist, near_map = build_man_sets(read_apropos())
    per_class = collections.Counter(c for _, c in in_dist.values())
    thin = [f"{CLASSES[c][1]} (section {CLASSES[c][0]}): {per_class[c]}" for c in range(len(CLASSES)) if per_class[c] < 50]
    if thin:
        fail("too few manual pages for " + "; ".join(thin) + " (sections 2 and 3 come with manpages-dev, "
             "section 8 with e.g. util-linux/man-db/apt; install them and run `mandb`)")
    train, test = stratified_split(in_dist, args.test_fraction, args.seed)
    near = [near_map[k] for k in sorted(near_map)]
    far = read_far_ood()
    for split, items in (("train", train), ("test", test)):
        counts = collections.Counter(c for _, c in items)
        print(f"{split}: {len(items)} texts; " + ", ".join(f"{class_names[c]} {counts[c]}" for c in range(len(CLASSES))))
    print(f"near OOD: {len(near)} texts from held-out sections")

    # Tokenizer.
    vocab = build_vocab([t for t, _ in train], args.min_freq, args.max_vocab)
    train_ids, train_mask, train_stats = encode([t for t, _ in train], vocab, T)
    test_ids, test_mask, test_stats = encode([t for t, _ in test], vocab, T)
    near_ids, near_mask, near_stats = encode(near, vocab, T)
    far_ids, far_mask, far_stats = encode(far, vocab, T)
    train_y = np.array([c for _, c in train], dtype=np.int64)
    test_y = np.array([c for _, c in test], dtype=np.int64)
    print(f"tokenizer: vocabulary {len(vocab)} (incl. [PAD], [UNK]), T={T}; [UNK] share / texts truncated: "
          + "; ".join(f"{n} {s['unk_rate']:.1%} / {s['truncated']}" for n, s in
                      (("train", train_stats), ("test", test_stats), ("near", near_stats), ("far", far_stats))))

    # Model.
    model = TextClassifier(len(vocab), T, len(CLASSES), dropout=args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    xi, xm, yt = torch.from_numpy(train_ids), torch.from_numpy(train_mask), torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(args.seed)
    print(f"model: {n_params} parameters; training {args.epochs} epochs on {len(train)} texts")
    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for i in range(0, len(yt), args.batch_size):
            idx = perm[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xi[idx], xm[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        train_acc = float((predict(model, train_ids, train_mask).argmax(1) == train_y).mean())
        test_acc = float((predict(model, test_ids, test_mask).argmax(1) == test_y).mean())
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(yt):.4f}, train acc {train_acc:.4f}, "
              f"test acc {test_acc:.4f}, {time.time() - t_train:.1f}s elapsed")
    train_seconds = time.time() - t_train
    test_logits = predict(model, test_ids, test_mask).astype(np.float32)
    test_acc = float((test_logits.argmax(1) == test_y).mean())
    majority = float(np.bincount(test_y).max() / len(test_y))
    print(f"test accuracy: {test_acc:.4f} (majority class {majority:.4f}; training took {train_seconds:.1f}s)")

    # ONNX.
    onnx_path = os.path.join(out, "model.onnx")
    shapes = export_onnx(model, onnx_path, T, len(model.layers), args.opset)
    print("model.onnx values: " + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    check_with_onnxruntime(onnx_path, test_ids[:256], test_mask[:256], test_logits[:256])

    # Files.
    save_json(os.path.join(out, "tokenizer.json"), tokenizer_json(vocab, T), indent=2)
    save_json(os.path.join(out, "tokenizer_config.json"), tokenizer_config_json(T), indent=2)
    save_lines(os.path.join(out, "classes.txt"), class_names)
    for split, items in (("train", train), ("test", test)):
        save_csv(os.path.join(out, f"{split}.csv"), [(t, class_names[c]) for t, c in items])
        save_jsonl(os.path.join(out, f"{split}.jsonl"), [{"text": t, "label": class_names[c]} for t, c in items])
    for split, texts in (("ood_near", near), ("ood_far", far)):
        save_lines(os.path.join(out, f"{split}.txt"), texts)
        save_jsonl(os.path.join(out, f"{split}.jsonl"), [{"text": t} for t in texts])
    save_lines(os.path.join(out, "ood_far_short.txt"), [" ".join(t.split()[:SHORT_WORDS]) for t in far])
    arrays = {
        "input_ids": train_ids, "attention_mask": train_mask, "labels": train_y,
        "test_input_ids": test_ids, "test_attention_mask": test_mask, "test_labels": test_y,
        "test_logits": test_logits,
        "ood_near_input_ids": near_ids, "ood_near_attention_mask": near_mask,
        "ood_far_input_ids": far_ids, "ood_far_attention_mask": far_mask,
    }
    for name, arr in arrays.items():
        save_npy(os.path.join(out, name + ".npy"), arr)

    seconds = time.time() - t_start
    print(f"wrote {out}: model.onnx, tokenizer.json, tokenizer_config.json, classes.txt, "
          f"train/test .csv/.jsonl, ood_near/ood_far .txt/.jsonl, {len(arrays)} .npy files; "
          f"test accuracy {test_acc:.4f}; {seconds:.1f}s total")


if __name__ == "__main__":
    main()
