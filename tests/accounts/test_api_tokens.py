"""User API tokens: shown once, stored as a hash, expiring, revocable; fleet tokens unchanged."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from fleetmon.accounts.models import ApiToken, Profile
from fleetmon.accounts.tokens import api_token_create, api_token_revoke, token_hash
from fleetmon.registry.services import fleet_token_create

pytestmark = pytest.mark.django_db

SITES = "/api/v1/sites/"


@pytest.fixture
def manager(django_user_model):
    user = django_user_model.objects.create_user("maria")
    Profile.objects.create(user=user, role="manager")
    return user


def with_token(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return client


def test_only_a_hash_of_the_token_is_stored(manager):
    token, plain = api_token_create(user=manager, name="reports")
    assert plain.startswith("fmu_") and len(plain) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.token_hash == token_hash(plain) and plain not in stored.token_hash
    assert stored.hint == plain[:10]
    assert with_token(plain).get(SITES).status_code == 200


def test_a_token_expires_after_the_configured_days(manager, settings):
    settings.FLEETMON_API_TOKEN_DAYS = 30
    token, plain = api_token_create(user=manager, name="reports")
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = with_token(plain).get(SITES)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Unknown, expired or revoked API token."


def test_revoked_tokens_and_inactive_users_are_refused(manager, django_user_model):
    token, plain = api_token_create(user=manager, name="reports")
    api_token_revoke(token=token)
    assert with_token(plain).get(SITES).status_code == 403
    _, other = api_token_create(user=manager, name="cron")
    django_user_model.objects.filter(pk=manager.pk).update(is_active=False)
    assert with_token(other).get(SITES).status_code == 403


def test_a_fleet_token_is_no_user_token_and_the_reverse(manager, devices):
    _, fleet = fleet_token_create(name="gw")
    _, user = api_token_create(user=manager, name="reports")
    assert with_token(fleet).get(SITES).status_code == 403  # not a user
    ingest = with_token(user).post("/api/v1/ingest/", [], format="json")
    assert ingest.status_code == 401  # not a gateway
    assert with_token(fleet).post("/api/v1/ingest/", [], format="json").status_code == 200


def test_the_command_prints_a_new_token_once(manager):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token",
        "maria",
        "--name",
        "nightly export",
        "--days",
        "7",
        stdout=out,
        stderr=err,
    )
    plain = out.getvalue().strip()
    token = ApiToken.objects.get(user=manager)
    assert token.name == "nightly export" and token.token_hash == token_hash(plain)
    assert "expires" in err.getvalue()
    assert with_token(plain).get(SITES).status_code == 200


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nobody"], "No user named 'nobody'"),
        (["maria", "--days", "0"], "between 1 and 3650 days"),
        (["maria", "--name", " "], "needs a name"),
    ],
)
def test_the_command_refuses_bad_input_in_words(manager, args, words):
    with pytest.raises(CommandError, match=words):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())


def test_revoke_all_leaves_only_the_new_token(manager):
    _, old = api_token_create(user=manager, name="old")
    call_command("create_api_token", "maria", "--revoke-all", stdout=StringIO(), stderr=StringIO())
    assert with_token(old).get(SITES).status_code == 403
    assert ApiToken.objects.filter(user=manager, revoked_at__isnull=True).count() == 1


def test_use_is_recorded_on_the_token(manager):
    token, plain = api_token_create(user=manager, name="reports")
    assert token.last_used_at is None
    assert with_token(plain).get(SITES).status_code == 200
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_a_wrong_token_is_refused_and_a_stored_hash_is_no_token(manager):
    token, plain = api_token_create(user=manager, name="reports")
    assert with_token(plain[:-1] + ("A" if plain[-1] != "A" else "B")).get(SITES).status_code == 403
    assert with_token(token.token_hash).get(SITES).status_code == 403


def test_the_admin_shows_the_new_token_once_and_stores_its_hash(admin_client, manager):
    created = admin_client.post(
        "/admin/accounts/apitoken/add/", {"user": manager.pk, "name": "grafana"}, follow=True
    )
    assert created.status_code == 200
    token = ApiToken.objects.get(user=manager, name="grafana")
    shown = [str(m) for m in created.context["messages"]]
    (plain,) = [w for m in shown for w in m.split() if w.startswith("fmu_")]
    assert token.token_hash == token_hash(plain)
    assert with_token(plain).get(SITES).status_code == 200
    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert plain not in page and token.hint in page
    assert token.token_hash not in page

    admin_client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert with_token(plain).get(SITES).status_code == 403


def test_the_migration_carries_plain_drf_tokens_over_hashed_and_deletes_them(manager):
    """A database from before: rest_framework.authtoken's table with a plain key in it."""
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("fleetmon.accounts.migrations.0002_api_tokens")
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz"
            " NOT NULL DEFAULT now(), user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, user_id) VALUES (%s, %s)", [key, manager.pk]
        )
    with connection.schema_editor() as editor:
        migration.hash_drf_tokens(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    token = ApiToken.objects.get(user=manager)
    assert token.token_hash == token_hash(key) and token.expires_at > timezone.now()
    assert with_token(key).get(SITES).status_code == 200  # scripts keep working, until expiry
