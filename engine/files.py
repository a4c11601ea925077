"""hanchot's own files are private: directories 0700, files 0600.

The database holds who did what and every unit's mail address; the calendar cache
and the mail written as ``.eml`` sit beside it. Kept free of heavy imports, so the
start-up path (the calendar cache) can use it without loading SQLAlchemy.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by this user only (0700)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask
