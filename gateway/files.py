"""Writing files that must never be half-written or readable by others: keys, certificates, ledgers.

One helper for every writer of secrets, so the mode is set before content and publishing is atomic.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    """Write via a temp file created with `mode` before any content; publish with os.replace
    (overwrite=True) or os.link, which refuses an existing target (overwrite=False: FileExistsError)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # exact mode, whatever the umask
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path, overwrite=overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(path.parent)


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic and never replaces an existing file
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; refusing to overwrite it") from None
    except OSError:  # filesystem without hard links: best effort
        if path.exists():
            raise FileExistsError(f"{path} already exists; refusing to overwrite it") from None
        os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_new_private(path: Path, data: bytes) -> bool:
    """Create `path` (mode 0600) with `data`, unless it exists: True if created. Never overwrites."""
    try:
        atomic_write(path, data, mode=0o600, overwrite=False)
    except FileExistsError:
        return False
    return True
