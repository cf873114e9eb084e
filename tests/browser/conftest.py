"""Headless Chromium (Debian's, driven by Playwright) against the app under uvicorn.

Screenshots go to artifacts/ (ignored by git), which CI keeps.
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium() -> str:
    path = os.environ.get("FLEETMON_CHROMIUM") or shutil.which("chromium") or ""
    if not path:
        pytest.fail("Chromium is not installed: run scripts/services.sh (it installs it)")
    return path


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_users(transactional_db):
    from django.core.management import call_command

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def sign_in(chromium, asgi_server, demo_users, settings):
    """sign_in(username) -> a Playwright page signed in through the login form."""
    contexts = []

    def _sign_in(username: str):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{asgi_server}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", settings.FLEETMON_DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield _sign_in
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
