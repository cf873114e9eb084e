from fleetmon.accounts.scopes import profile_of


def profile(request) -> dict:
    """`profile` in every template: the signed-in user's role and scope (or None)."""
    found = getattr(request, "profile", None)
    return {"profile": found or profile_of(getattr(request, "user", None))}
