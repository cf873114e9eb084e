from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Roles and scopes: who may see and change which sites and regions."""

    name = "fleetmon.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Signal receivers: the lock-out log, and closing sockets on logout.
        from fleetmon.accounts import sessions, throttle  # noqa: F401
