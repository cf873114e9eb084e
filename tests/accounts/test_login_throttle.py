"""Login throttling (django-axes): after the limit of wrong passwords for one username from one
address, the sign-in forms refuse with a clear message until the cool-off is over."""

import pytest
from django.test import Client

from fleetmon.accounts.models import Profile

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice", password=PASSWORD)
    Profile.objects.create(user=user, role="operator", regions=["US-W"])
    return user


def sign_in(client: Client, password: str, url: str = "/accounts/login/", **extra):
    return client.post(url, {"username": "alice", "password": password}, **extra)


def test_the_limit_of_wrong_passwords_locks_sign_in(alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert sign_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = sign_in(client, "wrong")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert (
        "Too many failed sign-ins" in page and "alice" in page and "locked for 15 minutes" in page
    )
    # Locked means locked: the right password is refused too, until the cool-off.
    assert sign_in(client, PASSWORD).status_code == 429


def test_the_lock_is_per_username_and_address(alice, django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        sign_in(Client(), "wrong", REMOTE_ADDR="203.0.113.9")
    assert sign_in(Client(), "wrong", REMOTE_ADDR="203.0.113.9").status_code == 429
    # From another address alice signs in; others sign in from the first one.
    assert sign_in(Client(), PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    django_user_model.objects.create_user("bob", password=PASSWORD)
    bob = Client().post(
        "/accounts/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert bob.status_code == 302


def test_a_successful_sign_in_resets_the_count(alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    sign_in(client, "wrong", url="/admin/login/")
    assert sign_in(client, "wrong", url="/admin/login/").status_code == 429


def test_the_test_clients_login_still_works(alice):
    assert Client().login(username="alice", password=PASSWORD)


def test_the_audits_thirty_wrong_passwords_meet_the_default_limit(alice):
    """Issue 12: 30 wrong passwords in 35 s were all answered. With the defaults (5 failures,
    15 minutes) the 5th is the last one judged."""
    client = Client()
    answers = [sign_in(client, f"guess-{n}").status_code for n in range(30)]
    assert answers == [200] * 4 + [429] * 26
    assert sign_in(client, PASSWORD).status_code == 429
