"""Reload the authorisation policy without downtime: on SIGHUP, or when a policy file changes.

A reload builds a new decision table aside and swaps one reference; a bad edit leaves the old table in
force and is reported. Calls in flight finish under the table they were authorised with.
"""
from __future__ import annotations

import logging
import threading

from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import CATALOGUE_FILE, MODEL_FILE, POLICY_FILE, PolicyEngine

log = logging.getLogger("permitgw.policy")


class PolicyWatcher:
    def __init__(self, engine: PolicyEngine, interval: float = 1.0) -> None:
        self.engine, self.interval = engine, interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seen = self._stamp()
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for name in (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE):
            try:
                st = (self.engine.directory / name).stat()
                stamps.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def start(self) -> PolicyWatcher:
        self._thread.start()
        return self

    def request_reload(self) -> None:
        """Ask for a reload now (the SIGHUP handler calls this; it is safe in a signal handler)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            forced = self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            stamp = self._stamp()
            if forced or stamp != self._seen:
                self._seen = stamp
                self.reload()

    def reload(self) -> None:
        before = self.engine.table.version
        try:
            table = self.engine.reload()
        except PolicyError as exc:
            self.last_error = str(exc)
            log.error("policy reload refused, the previous policy stays in force: %s", exc)
            print(f"permitgw: policy reload refused, {before} stays in force: {exc}", flush=True)
            return
        self.last_error = ""
        if table.version != before:
            print(f"permitgw: policy reloaded: {before} -> {table.version}", flush=True)
