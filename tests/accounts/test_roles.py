"""Demo users, role landing pages and the role capabilities."""

import pytest
from django.core.management import call_command

from fleetmon.accounts.models import Profile, Role

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_one_user_per_role_with_the_demo_password(settings, client):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    profiles = {p.user.username: p for p in Profile.objects.select_related("user")}
    assert {name: (p.role, p.regions) for name, p in profiles.items()} == {
        "operator_a": ("operator", ["US-W"]),
        "operator_b": ("operator", ["US-E"]),
        "ml_engineer": ("ml_engineer", []),
        "manager": ("manager", []),
        "admin": ("admin", []),
    }
    assert client.login(username="operator_b", password=settings.FLEETMON_DEMO_PASSWORD)
    assert profiles["admin"].user.is_superuser
    assert not profiles["manager"].user.is_staff


@pytest.mark.parametrize(
    ("role", "triage", "models"),
    [
        (Role.OPERATOR, True, False),
        (Role.ML_ENGINEER, False, True),
        (Role.MANAGER, False, False),
        (Role.ADMIN, True, True),
    ],
)
def test_what_each_role_may_change(role, triage, models):
    profile = Profile(role=role)
    assert (profile.can_triage, profile.can_manage_models) == (triage, models)


@pytest.mark.parametrize(
    ("username", "landing"),
    [("operator_a", "/alerts/"), ("ml_engineer", "/alerts/"), ("manager", "/overview/")],
)
def test_each_role_lands_on_its_page(client, username, landing):
    call_command("seed_demo")
    client.force_login(Profile.objects.get(user__username=username).user)
    assert client.get("/").url == landing


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_refusals_are_pages_of_the_console_that_say_why(client):
    call_command("seed_demo")
    client.force_login(Profile.objects.get(user__username="operator_a").user)
    refused = client.get("/overview/")
    assert refused.status_code == 403
    assert "this page is not open to your role" in refused.content.decode()
    missing = client.get("/devices/REF-NOWHERE/")
    assert missing.status_code == 404
    assert "outside the regions and sites you look after" in missing.content.decode()
