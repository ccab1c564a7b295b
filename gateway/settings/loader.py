"""Reading a settings file of policies/: "missing" and "not valid TOML" said once, and the checks files share.

Every settings module reads its file through here, so a missing or garbled file is reported the same way
whichever file it is: by its path, with how to restore it.
"""
from __future__ import annotations

import io
import tomllib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from gateway.policy.catalogue import PolicyError


def read_policy_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """The file as data and the bytes it was read from, or a PolicyError naming the file."""
    if not path.is_file():
        raise PolicyError(f"policy file missing: {path} (`permitgw init` adds missing shipped files)")
    try:
        raw = path.read_bytes()
        text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()  # as a file read as text
        return tomllib.loads(text), raw
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc.__class__.__name__}: {exc}") from exc


def read_policy_file(path: Path) -> dict[str, Any]:
    """A policies/*.toml file as data, or a PolicyError that names the file and says how to restore it."""
    return read_policy_toml(path)[0]


def is_whole(value: object) -> TypeGuard[int]:
    """A TOML integer (true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_keys(where: str, data: Mapping[str, object], keys: Sequence[str],
               required: Collection[str] | None = None) -> None:
    """PolicyError "<where> missing keys [...], unknown keys [...]" unless `data` has the required keys and no
    key outside `keys` (all of them are required unless `required` says which)."""
    missing = [k for k in keys if k not in data and (required is None or k in required)]
    unknown = sorted(set(data) - set(keys))
    if missing or unknown:
        raise PolicyError(f"{where} missing keys {missing}, unknown keys {unknown}")
