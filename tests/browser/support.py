"""Headless Chromium (Debian's, driven by Playwright) against the app under uvicorn: the
browser settings and screenshots (to artifacts/, ignored by git, kept by CI). The fixtures
(`chromium`, `demo_users`, `sign_in`) are in tests/conftest.py, for every test folder.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    path = os.environ.get("FLEETMON_CHROMIUM") or shutil.which("chromium") or ""
    if not path:
        pytest.fail("Chromium is not installed: run scripts/services.sh (it installs it)")
    return path


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for(page, expression: str, arg=None, timeout: float = 15.0) -> None:
    """page.wait_for_function, polled from here: Playwright's own polling compiles the
    predicate inside the page, which the Content-Security-Policy (no 'unsafe-eval') refuses,
    while page.evaluate goes through the DevTools protocol, which the policy does not govern.
    A predicate that throws (an element not there yet) counts as false until the timeout."""
    deadline = time.monotonic() + timeout
    problem = ""
    while time.monotonic() < deadline:
        try:
            if page.evaluate(expression, arg):
                return
        except Exception as exc:  # noqa: BLE001 - Playwright's Error for a throwing predicate
            problem = f" (last: {exc})"
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out after {timeout} s waiting for {expression}{problem}")
