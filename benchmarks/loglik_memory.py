"""Memory of the k = 5000 log-likelihood estimate: bounded by the chunk size, not by k.

`tfvae.objectives.marginal_log_likelihood` draws the k importance samples `chunk_size`
at a time and keeps a running log-sum-exp, so estimating log p(x) with k = 5000 (the
paper's number) should need about the memory of k = 500. The largest tensor is the
decoder's output for one chunk: chunk x batch x 784 float32 numbers (157 MB for a chunk of
500 and a batch of 100); without chunks, k = 5000 would hold ten times that.

Each setting runs in a fresh process, whose peak resident memory (ru_maxrss) is compared
with its resident memory just before the estimate (TensorFlow alone holds several hundred
MB). The model is the paper's 784-500-20 MLP VAE, untrained (memory does not depend on
the weights), on 100 binarized Fashion-MNIST test images.

Run: python benchmarks/loglik_memory.py [--unchunked]
(--unchunked adds k = 5000 in one chunk, for contrast; it needs a few GB.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "loglik_memory.json"
IMAGES, BATCH = 100, 100


def child(k: int, chunk: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from tfvae import data, models, objectives

    model = models.build(image_shape=(28, 28), latent_dim=20, hidden_units=500)
    images = data.load("fashion_mnist").binarized("test")[:IMAGES]
    page = os.sysconf("SC_PAGE_SIZE")
    before = int(Path("/proc/self/statm").read_text().split()[1]) * page
    began = time.perf_counter()
    log_p = objectives.marginal_log_likelihood(model, images, k=k, batch_size=BATCH, chunk_size=chunk)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(json.dumps({"k": k, "chunk_size": chunk, "rss_before_mb": before / 2**20, "peak_rss_mb": peak / 2**20,
                      "growth_mb": (peak - before) / 2**20, "seconds": seconds,
                      "mean_log_p": float(np.mean(log_p)), "finite": bool(np.all(np.isfinite(log_p)))}))


def run(k: int, chunk: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, __file__, "--child", str(k), str(chunk)], capture_output=True,
                         text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"k={k}, chunk={chunk} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unchunked", action="store_true", help="also run k=5000 in a single chunk")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    settings = [(500, 500), (5000, 500)] + ([(5000, 5000)] if args.unchunked else [])
    rows = [run(k, chunk) for k, chunk in settings]
    print(f"{IMAGES} images, batch {BATCH}; decoder output per chunk = chunk x {BATCH} x 784 float32")
    print(f"{'k':>6}{'chunk':>7}{'RSS before':>12}{'peak RSS':>10}{'growth':>9}{'seconds':>9}{'mean log p':>12}")
    for r in rows:
        print(f"{r['k']:>6}{r['chunk_size']:>7}{r['rss_before_mb']:>10.0f}MB{r['peak_rss_mb']:>8.0f}MB"
              f"{r['growth_mb']:>7.0f}MB{r['seconds']:>9.1f}{r['mean_log_p']:>12.2f}")
    small, large = rows[0], rows[1]
    ratio = large["growth_mb"] / small["growth_mb"]
    print(f"growth for k=5000 / growth for k=500 (both chunk 500): {ratio:.2f} "
          f"({'bounded by the chunk' if ratio < 2 else 'NOT bounded: grows with k'})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "growth_ratio": ratio}, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
