"""Headless Chromium for the admin console tests: Debian's ``chromium`` through Playwright.

Playwright drives the system browser (``executable_path``), so no browser build is
downloaded. When the package is missing it is installed with apt-get, as CI does on a
fresh machine.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[2]
# Screenshots of the pages under test; the folder is ignored by git.
ARTIFACTS = REPO / "tests" / "artifacts" / "admin"
CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str:
    found = next((p for p in map(shutil.which, CANDIDATES) if p), None)
    if found is None:
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900
        )
        found = next((p for p in map(shutil.which, CANDIDATES) if p), None)
    assert found is not None, "chromium could not be installed"
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # Root in a container has no user namespace for the sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
