"""Headless Chromium (Debian's, driven by Playwright) against the app under uvicorn: the
browser settings and screenshots (to artifacts/, ignored by git, kept by CI). The fixtures
(`chromium`, `demo_users`, `sign_in`) are in tests/conftest.py, for every test folder.
"""

import os
import shutil
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
