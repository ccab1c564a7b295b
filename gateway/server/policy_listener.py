"""One policy for a cluster of replicas on PostgreSQL: each replica takes a pushed policy within seconds.

`permitgw policy push` puts a validated bundle in the database and announces its version (NOTIFY). Each server
process runs one listener thread with its own connection (gateway/store/pg_policy.py, opened in that thread, so
after any fork). On an announcement — and every POLL_SECONDS anyway, since an announcement sent while the
connection was down is lost — it reads the latest version; a new one is materialised in a private directory,
loaded exactly as a server start loads policies/ (gateway/server/policy_bundle.py), and only then put in force:
the decision table by one reference swap (calls in flight finish under the table they were authorised with),
the quota and anomaly limits by their update(). A bundle that does not load here is refused and reported; the
policy in force stays. Settings read only at start (enrollment, housing, points, statistics, organisations,
limits) are named when a push changes them: they take effect at the next restart.

Pycasbin's own watchers are not used: casbin's enforce() is not thread-safe and the gateway never runs it on a
request (gateway/policy/decisions.py), and a watcher that opens its connection before a pre-forking server
forks shares one socket between processes.
"""
from __future__ import annotations

import getpass
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.policy.bundle import LIVE_FILES, PushedPolicy, changed_files, read_bundle
from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import PolicyEngine
from gateway.server.policy_bundle import LoadedPolicy, load_bundle
from gateway.store.port import PolicyFeed, PolicyVersions, StoreUnavailable

log = logging.getLogger("permitgw.policy")

WAKE_SECONDS = 0.25  # the longest the thread waits for an announcement before it looks at stop and SIGHUP
POLL_SECONDS = 2.0  # the latest version is read at least this often (announcements can be lost)
RETRY_SECONDS = 0.5  # after a failed connection attempt (Reconnect spaces attempts out further)


def pusher() -> str:
    """Who pushes: the operating-system user at this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def in_force_at_start(versions: PolicyVersions, local: Path) -> tuple[PushedPolicy, str]:
    """The cluster's policy for a replica that starts, and a line saying where it came from.

    While nothing has been pushed yet, this replica's own policies/ become the first version (validated first;
    when replicas start together, the first to push wins and the others take its version), so the cluster
    has one policy from its first start on.
    """
    pushed = versions.latest_policy()
    if pushed is not None:
        return pushed, f"cluster policy {pushed.version} (pushed {pushed.pushed_at} by {pushed.pushed_by})"
    files = read_bundle(local)
    load_bundle(files, str(local))
    pushed, first = versions.push_policy(files, f"{pusher()} (first serve)", only_if_none=True)
    if first:
        return pushed, f"cluster policy {pushed.version}: none was pushed yet, so {local} became the first version"
    return pushed, f"cluster policy {pushed.version} (pushed {pushed.pushed_at} by {pushed.pushed_by})"


class PolicyListener:
    """The thread that keeps this process on the cluster's latest policy (see the module's docstring)."""

    def __init__(self, engine: PolicyEngine, feed: PolicyFeed, files: Mapping[str, bytes],
                 apply: Callable[[LoadedPolicy], None], *, poll_seconds: float = POLL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.feed, self._apply = engine, feed, apply
        self._files = dict(files)
        self.poll_seconds, self._monotonic = poll_seconds, monotonic
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.last_error = ""
        self._refused = ""  # the version (or stored text) last refused: reported once, not at every poll
        self._outage = ""
        self._thread = threading.Thread(target=self._run, name="policy-listen", daemon=True)

    def start(self) -> PolicyListener:
        self._thread.start()
        return self

    def request_reload(self) -> None:
        """Look at the database now (SIGHUP; safe in a signal handler)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        next_poll = self._monotonic() + self.poll_seconds
        while not self._stop.is_set():
            try:
                announced = self.feed.wait(WAKE_SECONDS)
                if self._outage:
                    print("permitgw: policy listener reconnected to PostgreSQL", flush=True)
                    log.warning("policy listener reconnected to PostgreSQL")
                    self._outage = ""
                forced = self._wake.is_set()
                if announced or forced or self._monotonic() >= next_poll:
                    self._wake.clear()
                    next_poll = self._monotonic() + self.poll_seconds
                    self.check()
            except StoreUnavailable as exc:
                if not self._outage:  # said once per outage (the backoff's wording changes at every attempt)
                    log.warning("policy listener: %s; retrying", exc)
                    self._outage = str(exc) or "unavailable"
                self._stop.wait(RETRY_SECONDS)
            except Exception:  # a defect must not end the thread: the policy in force stays, retried later
                log.exception("policy listener failed; retrying")
                self._stop.wait(RETRY_SECONDS)
        self.feed.close()

    def _refuse(self, what: str, message: str) -> None:
        self.last_error = message
        if what == self._refused:
            return
        self._refused = what
        before = self.engine.table.version
        log.error("policy reload refused, the previous policy stays in force: %s", message)
        print(f"permitgw: policy reload refused, {before} stays in force: {message}", flush=True)

    def check(self) -> None:
        """Read the latest pushed version and put it in force if it is new and loads here."""
        try:
            pushed = self.feed.latest()
        except PolicyError as exc:  # a stored bundle that is not even a bundle
            self._refuse(str(exc), str(exc))
            return
        before = self.engine.table.version
        if pushed is None or pushed.version == before:
            return
        try:
            loaded = load_bundle(pushed.files, f"policy {pushed.version}")
        except PolicyError as exc:
            self._refuse(pushed.version, str(exc))
            return
        self.engine.swap(loaded.table)
        self._apply(loaded)
        restart = [n for n in changed_files(self._files, pushed.files) if n not in LIVE_FILES]
        self._files = dict(pushed.files)
        self.last_error, self._refused = "", ""
        print(f"permitgw: policy reloaded: {before} -> {pushed.version} (pushed {pushed.pushed_at} by "
              f"{pushed.pushed_by})", flush=True)
        if restart:
            print(f"permitgw: policy {pushed.version} changes {', '.join(restart)}: these take effect when this "
                  "server restarts", flush=True)
