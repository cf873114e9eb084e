"""The Content-Security-Policy and Permissions-Policy headers, without a browser (the browser
test, test_csp_browser.py, proves pages work under them), and the API docs from the pinned
sidecar, with no CDN."""

import re

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    found = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


def test_every_page_forbids_scripts_from_elsewhere_and_inline(client):
    page = client.get("/accounts/login/")
    csp = directives(page)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert all(s == "'self'" or s.startswith("'sha256-") for s in csp["style-src"])
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"]


def test_every_page_turns_off_browser_features_it_does_not_use(client):
    policy = client.get("/accounts/login/")["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


def test_api_answers_carry_the_policy_too(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", None))
    answer = client.get("/api/v1/sites/")
    assert answer.status_code == 200
    assert directives(answer)["script-src"] == ["'self'"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_come_from_the_pinned_sidecar_with_styles_relaxed_there_only(client, url):
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    # This site's paths only (Swagger UI's set-up script is /api/docs/?script=).
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert any("/static/drf_spectacular_sidecar/" in s for s in sources)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html), "an inline script"
    assert "cdn." not in html and "unpkg" not in html
    csp = directives(page)
    assert csp["script-src"] == ["'self'"]
    # Swagger UI and ReDoc set inline styles: allowed on these pages, with no hash beside
    # 'unsafe-inline' (a browser would then ignore it).
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "blob:" in csp["worker-src"]
