from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Roles and scopes: who may see and change which sites and regions."""

    name = "fleetmon.accounts"
    label = "accounts"
