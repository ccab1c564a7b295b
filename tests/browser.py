"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright's Python package.

Playwright cannot download its own browsers on these machines, so it launches the system's binary through
`executable_path` (`make test` installs the `chromium` package when it is missing and it runs as root). The
flags keep Chromium from reaching out to the network at start (this machine's network is closed) and let it run
as root in a container. A missing browser fails the test with what to do — browser tests never skip.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path(os.environ.get("PERMITGW_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A browser for one test module or test; closed afterwards, whatever happened."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package when run as root "
                    "(or: apt-get install chromium; PERMITGW_CHROMIUM names another binary)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
