"""The full verification of the access log, run when the console starts and then every `[console] verify_seconds`,
so the Overview can say when the log was last checked end to end and how it fared.

One daemon thread runs `verify` (in the server: oversight_verify.run_full_verification with the anchors and witness
keys `permitgw audit verify` uses), one run at a time, waiting on an Event between runs so `stop` ends it at once
(a run under way is waited for up to a bound; the thread is a daemon, so a stuck run cannot hold the process).
A run that raises is logged and tried again at the next interval: the outcome of a run that completes, failed or
not, is in the store.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gateway.errors import GatewayError

log = logging.getLogger("permitgw.console")
MIN_SECONDS = 1.0
MAX_SECONDS = 7 * 86400.0


class VerifySettingError(GatewayError, ValueError):
    """[console] verify_seconds is not a number of seconds in range."""


def interval(value: object) -> float:
    """[console] verify_seconds, checked: a number of seconds from MIN_SECONDS to MAX_SECONDS."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise VerifySettingError(f"[console] verify_seconds must be a number of seconds from {MIN_SECONDS:g} to "
                                 f"{MAX_SECONDS:g}, not {value!r}")
    return float(value)


class PeriodicVerification:
    """Run `verify` now and every `every` seconds on a daemon thread until `stop`."""

    def __init__(self, verify: Callable[[], object], every: float) -> None:
        self._verify, self._every = verify, every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-verification", daemon=True)
        self.runs = 0  # runs completed (raised or not): for tests and the curious

    def start(self) -> PeriodicVerification:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._verify()
            except Exception:
                log.exception("full verification of the access log could not run")
            self.runs += 1
            if self._stopping.wait(self._every):
                return

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
