"""`permitgw policy push` and `policy show`: officials change the cluster's policy once, in the database.

A push reads a policies/ directory, loads it exactly as a server start would (gateway/server/policy_bundle.py)
and only then writes it; a bundle that does not load is refused with one line and nothing is written. Every
replica takes a pushed version within seconds (gateway/server/policy_listener.py). On SQLite the policy stays
the files of DIR/policies, reloaded on SIGHUP or when they change.
"""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from gateway.datadir import DataDir
from gateway.errors import GatewayError
from gateway.policy.bundle import LIVE_FILES, changed_files, read_bundle
from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import policy_version
from gateway.server.policy_bundle import load_bundle
from gateway.server.policy_listener import pusher
from gateway.store.port import policy_versions


class PushRefused(GatewayError):
    """The policy cannot be pushed: wrong backend, or a bundle that does not load."""


def _require_postgres(data: DataDir) -> None:
    if data.store_settings()["backend"] != "postgres":
        raise PushRefused(f"policy push is for the PostgreSQL backend; on SQLite edit {data.policies} and send "
                          "SIGHUP to the server (or let it notice the change)")


MAX_BY = 100  # characters of --by


def push(data: DataDir, source: Path | None, by: str | None, out: TextIO) -> int:
    _require_postgres(data)
    if by is not None and not (0 < len(by) <= MAX_BY and by.isprintable()):
        raise PushRefused(f"--by must be 1 to {MAX_BY} printable characters")
    directory = source if source is not None else data.policies
    try:
        files = read_bundle(directory)
        load_bundle(files, str(directory))
    except PolicyError as exc:
        raise PushRefused(f"policy refused, nothing pushed: {exc}") from exc
    store = data.open_store()
    try:
        versions = policy_versions(store)
        before = versions.latest_policy()
        pushed, changed = versions.push_policy(files, by or pusher())
    finally:
        store.close()
    if not changed:
        print(f"policy {pushed.version} is already in force (pushed {pushed.pushed_at} by {pushed.pushed_by}); "
              "nothing pushed", file=out)
        return 0
    print(f"pushed policy {pushed.version} from {directory}: every replica takes it within 5 s", file=out)
    if before is not None:
        names = changed_files(before.files, files)
        print(f"changed since {before.version}: {', '.join(names)}", file=out)
        restart = [n for n in names if n not in LIVE_FILES]
        if restart:
            print(f"{', '.join(restart)}: these take effect when each server restarts", file=out)
    return 0


def show(data: DataDir, out: TextIO) -> int:
    if data.store_settings()["backend"] != "postgres":
        print(f"policy in force: {policy_version(data.policies)} (the files of {data.policies}, SQLite backend)",
              file=out)
        return 0
    store = data.open_store()
    try:
        pushed = policy_versions(store).latest_policy()
    finally:
        store.close()
    if pushed is None:
        print("no policy pushed yet: the first server to start pushes its own policies/", file=out)
    else:
        print(f"policy in force: {pushed.version} (pushed {pushed.pushed_at} by {pushed.pushed_by})", file=out)
    return 0
