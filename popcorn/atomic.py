"""Files written whole or not at all: every file popcorn writes for a later run to trust
(network files, predictions, step results, reports, weight images) goes to a temporary file
beside its target, which replaces the target only once complete (``os.replace``, atomic on
POSIX). An interrupted or failed write leaves the old file, or none."""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_open", "write_text", "write_bytes"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """A file object whose content becomes ``path`` when the ``with`` block ends without
    an exception (with an exception, ``path`` is left as it was)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode) as file:
            yield file
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text):
    with atomic_open(path, "w") as file:
        file.write(text)


def write_bytes(path, data):
    with atomic_open(path, "wb") as file:
        file.write(data)
