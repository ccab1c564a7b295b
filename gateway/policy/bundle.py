"""A policy bundle: every file officials edit in policies/, as one value with one version.

On the PostgreSQL backend the cluster's policy is a bundle pushed into the database (`permitgw policy push`);
each replica materialises it in a private directory and loads it as it would load its own policies/. The
version names the whole bundle — SHA-256 over every file, not only the three the decision table is built
from — so that a push that changes only quotas.toml is a new version too, and each access-log entry names
exactly the bundle it was decided under. Sizes are bounded: a bundle is a few kilobytes of text.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import CATALOGUE_FILE, MODEL_FILE, POLICY_FILE

# Every file of the bundle, each required (`permitgw init` adds a missing shipped one). The first three make
# the decision table; the others are the rule settings (gateway/settings/) and the request limits.
BUNDLE_FILES = (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE, "anomalies.toml", "enrollment.toml", "housing.toml",
                "limits.toml", "organisations.toml", "points.toml", "quotas.toml", "statistics.toml")
# What a running replica takes over without a restart: the decision table, quotas and anomaly limits.
LIVE_FILES = frozenset({MODEL_FILE, POLICY_FILE, CATALOGUE_FILE, "quotas.toml", "anomalies.toml"})
MAX_FILE_BYTES = 1 << 20
MAX_BUNDLE_BYTES = 4 << 20

Files = Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class PushedPolicy:
    """A bundle as the database keeps it: its version, when and by whom it was pushed, and its files."""

    version: str
    pushed_at: str
    pushed_by: str
    files: Mapping[str, bytes]


def bundle_version(files: Files) -> str:
    """SHA-256 over every file of the bundle (name, length and content, in a fixed order)."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(name.encode() + b"\x00" + len(data).to_bytes(8, "big") + data)
    return "sha256:" + h.hexdigest()[:16]


def check_files(files: Files, where: str) -> None:
    """PolicyError unless `files` holds exactly the bundle's files, each within the size bounds."""
    missing = [n for n in BUNDLE_FILES if n not in files]
    unknown = sorted(set(files) - set(BUNDLE_FILES))
    if missing or unknown:
        raise PolicyError(f"{where}: a policy bundle needs {', '.join(missing) or 'nothing more'}"
                          f"{'; unknown files ' + ', '.join(unknown) if unknown else ''}")
    big = [n for n, data in files.items() if len(data) > MAX_FILE_BYTES]
    if big:
        raise PolicyError(f"{where}: {', '.join(sorted(big))} larger than {MAX_FILE_BYTES} bytes")
    if sum(len(d) for d in files.values()) > MAX_BUNDLE_BYTES:
        raise PolicyError(f"{where}: the bundle is larger than {MAX_BUNDLE_BYTES} bytes")


def read_bundle(directory: Path) -> dict[str, bytes]:
    """The bundle's files from a policies/ directory (other files there are not part of it)."""
    if not directory.is_dir():
        raise PolicyError(f"{directory} is not a directory of policy files")
    files: dict[str, bytes] = {}
    for name in BUNDLE_FILES:
        path = directory / name
        if not path.is_file():
            raise PolicyError(f"policy file missing: {path} (`permitgw init` adds missing shipped files)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PolicyError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        files[name] = path.read_bytes()
    check_files(files, str(directory))
    return files


def encode(files: Files) -> str:
    """The bundle as the database stores it: JSON of {file name: base64 of its bytes}."""
    return json.dumps({n: base64.b64encode(files[n]).decode("ascii") for n in sorted(files)}, sort_keys=True)


def decode(text: str, where: str) -> dict[str, bytes]:
    """The files of a stored bundle, or a PolicyError saying what is wrong with it."""
    if len(text) > 2 * MAX_BUNDLE_BYTES:
        raise PolicyError(f"{where}: the stored bundle is larger than {2 * MAX_BUNDLE_BYTES} characters")
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not an object of base64 strings")
        files = {str(n): base64.b64decode(v.encode("ascii"), validate=True) for n, v in data.items()}
    except (ValueError, binascii.Error) as exc:
        raise PolicyError(f"{where}: the stored bundle is not JSON of base64 files: {exc}") from exc
    check_files(files, where)
    return files


@contextmanager
def materialised(files: Files) -> Iterator[Path]:
    """A private temporary directory (0700, files 0600) holding the bundle, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="permitgw-policy-"))
    try:
        for name, data in files.items():
            if name not in BUNDLE_FILES:  # never a path: only the bundle's own names
                raise PolicyError(f"not a policy bundle file: {name!r}")
            fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def changed_files(before: Files, after: Files) -> list[str]:
    """The names whose content differs between two bundles."""
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
