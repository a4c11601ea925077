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


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file in the same directory,
    then a rename), mode 0600 in a 0700 directory: a reader never sees half a file."""
    import tempfile

    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
