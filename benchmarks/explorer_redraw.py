"""Redraw time of the live latent explorer: slider moved -> new PNG bytes ready.

`tfvae.explore.latent_explorer` redraws on every slider event (continuous_update), so a
redraw must stay well under the ~100 ms at which dragging feels sluggish. Here the explorer
is built in-process (no front end: the widgets' messages go nowhere, so the time is the
kernel's own work: decoding E[x|z], the picture's PNG and the pad's PNG) for the paper's
MLP VAE (784-500-d, 28x28 images, latent_dim 2 and 20). The model is untrained and the pad's
test images are random: the redraw cost depends on neither.

Each round sets the first slider to a new value (`slider.value = v`, as a front end's message
does) and times until `explorer.image.value` holds the new PNG; the observer runs
synchronously, so that is the time of the assignment. The first redraws (tracing the
decoder's tf.function) are left out. It also times the parts of one redraw separately.

Run: python benchmarks/explorer_redraw.py [--moves 200] [--images 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfvae import explore, models  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "explorer_redraw.json"
WARM_UP = 5


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def parts(explorer, repeats: int = 50) -> dict:
    """Median ms of each part of a redraw, timed on their own."""
    z = explorer.z[None].astype(np.float32)
    timings = {"decode": [], "image PNG": [], "pad picture + PNG": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        means = explorer._decode(z).numpy()[0]
        t1 = time.perf_counter()
        explore.live.mean_image_png(means, explorer._zoom)
        t2 = time.perf_counter()
        if explorer.pad is not None:
            explore.live._png(explorer._pad_picture())
        t3 = time.perf_counter()
        timings["decode"].append(t1 - t0)
        timings["image PNG"].append(t2 - t1)
        timings["pad picture + PNG"].append(t3 - t2)
    return {k: 1000 * statistics.median(v) for k, v in timings.items()}


def measure(latent_dim: int, moves: int, images: np.ndarray) -> dict:
    model = models.build(image_shape=(28, 28), latent_dim=latent_dim, hidden_units=500, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no widget front end": expected outside a kernel
        explorer = explore.latent_explorer(model, images, np.arange(len(images)) % 10)
    slider = explorer.sliders[0]
    values = np.round(np.linspace(-2.9, 2.9, moves + WARM_UP), 2)
    values[1::2] = values[1::2][::-1]  # jump back and forth: every value differs from the last
    times, cpu_times = [], []
    for k, value in enumerate(values):
        before = explorer.image.value
        t0, c0 = time.perf_counter(), time.process_time()
        slider.value = float(value)
        t1, c1 = time.perf_counter(), time.process_time()
        if explorer.image.value is before:
            raise SystemExit(f"setting the slider to {value} did not redraw the picture")
        if k >= WARM_UP:
            times.append(1000 * (t1 - t0))
            cpu_times.append(1000 * (c1 - c0))
    return {"latent_dim": latent_dim, "sliders": len(explorer.sliders), "moves": len(times),
            "median_ms": statistics.median(times), "p90_ms": percentile(times, 90), "max_ms": max(times),
            "cpu_median_ms": statistics.median(cpu_times), "parts_median_ms": parts(explorer)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200, help="timed slider moves per model")
    parser.add_argument("--images", type=int, default=1000, help="test images encoded for the pad")
    args = parser.parse_args()
    images = np.random.default_rng(0).random((args.images, 28, 28), dtype=np.float32)

    load_before = os.getloadavg()[0]
    rows = [measure(d, args.moves, images) for d in (2, 20)]
    load_after = os.getloadavg()[0]

    print(f"live explorer redraw (slider value set -> new PNG bytes ready), 784-500-d MLP VAE, 28x28 images, "
          f"pad of {args.images} encoded images; TF {tf.__version__}, {os.cpu_count()} cores")
    print(f"{'latent_dim':>10}{'sliders':>9}{'moves':>7}{'median ms':>11}{'p90 ms':>9}{'max ms':>9}"
          f"{'CPU median ms':>15}   parts (median ms)")
    for r in rows:
        split = ", ".join(f"{k} {v:.2f}" for k, v in r["parts_median_ms"].items())
        print(f"{r['latent_dim']:>10}{r['sliders']:>9}{r['moves']:>7}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}"
              f"{r['max_ms']:>9.2f}{r['cpu_median_ms']:>15.2f}   {split}")
    slow = [r["latent_dim"] for r in rows if r["median_ms"] > 100]
    print("median above 100 ms for latent_dim " + ", ".join(map(str, slow)) + ": dragging will feel sluggish"
          if slow else "every median is below 100 ms")
    if load_before > 0.5 * (os.cpu_count() or 1):
        print(f"note: the load average was {load_before:.1f} on {os.cpu_count()} cores before the run: other "
              "programs were running, so the wall-clock numbers are high and noisy; measure again on a quiet machine.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"tensorflow": tf.__version__, "cores": os.cpu_count(), "pad_images": args.images,
                                   "load_average": {"before": load_before, "after": load_after}, "rows": rows},
                                  indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
