"""Writing a file so that a crash never leaves half of it (and no TensorFlow import).

A run folder's run.json and its checkpoints' LATEST marker are read by the next command,
which may follow a killed one: each is written to a temporary file beside it and renamed
into place, an atomic step on POSIX filesystems.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write_text(path: str | os.PathLike, text: str):
    """Write `text` to `path` all at once: a reader sees the old file or the new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
