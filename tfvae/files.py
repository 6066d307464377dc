"""A run folder's layout, and writing a file so that a crash never leaves half of it (no TensorFlow import).

A run folder is what `tfvae.training.fit` and `tfvae train` write: checkpoints/ (one folder
per epoch, and a `latest` marker naming the newest), model/ (the final model) and, from the
command, run.json (its settings and record). The names live here, with no TensorFlow import,
so that the command checks a folder before it starts TensorFlow and writes nothing twice.

A run folder's run.json and its checkpoints' `latest` marker are read by the next command,
which may follow a killed one: each is written to a temporary file beside it and renamed
into place, an atomic step on POSIX filesystems.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_FILE = "run.json"            # `tfvae train`'s record: settings, data hashes, commands, wall time
CHECKPOINTS_DIR = "checkpoints"  # one checkpoint folder per epoch, and the `latest` marker
MODEL_DIR = "model"              # the final model (weights + JSON config)


def atomic_write_text(path: str | os.PathLike, text: str):
    """Write `text` to `path` all at once: a reader sees the old file or the new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
