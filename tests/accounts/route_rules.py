"""Who may use each route: one declaration per URL name, read by test_route_matrix.py.

A route missing here fails the matrix (deny by default): a new page or endpoint is classified
before it ships. Reads are GET; writes every other method the route answers.

Whether a route is scoped is not declared: any route that takes an alert, device or site is
requested for an object in the caller's region and for one outside it, and an operator must
get 404 for the second, as for an unknown id.
"""

from dataclasses import dataclass

OPERATORS = frozenset({"operator_a", "operator_b"})
ROLES = OPERATORS | {"ml_engineer", "manager", "admin"}
TRIAGE = OPERATORS | {"admin"}
MODELS = frozenset({"ml_engineer", "admin"})
OPS = frozenset({"ml_engineer", "manager", "admin"})
OVERVIEW = OPS
NOBODY = frozenset()


@dataclass(frozen=True)
class Rule:
    """kind: `api` (401/403 unless allowed), `page` (login page unless signed in, then 403
    unless allowed), `public` (anyone), `signed_in` (any signed-in user, role or not),
    `staff` (the Django admin), `gateway` (fleet tokens only)."""

    kind: str
    read: frozenset = ROLES
    write: frozenset = NOBODY
    owned: bool = False  # the object is the caller's own (saved views): others' answer 404
    methods: tuple[str, ...] = ("GET",)  # pages; API methods come from the schema
    obj: str = ""  # which object of the world fills a `pk` in the URL


def api(read=ROLES, write=NOBODY, **more) -> Rule:
    return Rule("api", read=frozenset(read), write=frozenset(write), **more)


def page(read=ROLES, write=NOBODY, **more) -> Rule:
    return Rule("page", read=frozenset(read), write=frozenset(write), **more)


PUBLIC = Rule("public", methods=("GET",))

RULES: dict[str, Rule] = {
    # ------------------------------------------------------------ sign-in and accounts
    "login": Rule("public", methods=("GET", "POST")),
    "logout": Rule("public", methods=("POST",)),  # answers with the sign-in page
    "password_change": Rule("signed_in", methods=("GET", "POST")),
    "password_change_done": Rule("signed_in"),
    "password_reset": Rule("public", methods=("GET", "POST")),
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,
    "password_reset_complete": PUBLIC,
    "home": Rule("signed_in"),
    # ------------------------------------------------------------ console pages
    "alert-queue": page(),
    "maintenance-windows": page(),
    "alert": page(),
    "device": page(),
    "sites": page(),
    "site": page(),
    "overview": page(OVERVIEW),
    "notification-settings": page(write=ROLES, methods=("GET", "POST")),
    "ops-dashboard": page(OPS),
    "ml-dashboard": page(MODELS),
    "data-health": page(MODELS),
    "monitoring-retraining": page(MODELS, write=MODELS, methods=("GET", "POST")),
    "scoring-runs-page": page(),
    "runbook": page(),
    # ------------------------------------------------------------ API: alerts
    "api-alert-queue": api(),
    "api-alert-export": api(),
    "api-alert-bulk": api(write=TRIAGE),
    "api-saved-views": api(write=ROLES),
    "api-saved-view": api(write=ROLES, owned=True, obj="saved_view"),
    "api-alert": api(),
    "api-alert-scores": api(),
    "api-alert-acknowledge": api(write=TRIAGE),
    "api-alert-schedule-maintenance": api(write=TRIAGE),
    "api-alert-false-positive": api(write=TRIAGE),
    "api-alert-resolve": api(write=TRIAGE),
    "api-alert-escalate": api(write=TRIAGE),
    "api-alert-shelve": api(write=TRIAGE),
    "api-alert-unshelve": api(write=TRIAGE),
    "api-maintenance-windows": api(write=TRIAGE),
    # The world's window is a cohort window: everyone sees it, but a cohort spans regions,
    # so only a fleet-wide role that triages (the admin) may cancel it.
    "api-maintenance-window-cancel": api(write={"admin"}, obj="maintenance_window"),
    "storms": Rule("signed_in"),
    "alert-events": Rule("signed_in"),
    # ------------------------------------------------------------ API: registry, thresholds
    "api-device": api(),
    "api-device-score-chart": api(),
    "api-device-out-of-service": api(write=TRIAGE),
    "api-device-return-to-service": api(write=TRIAGE),
    "device-scores": api(),
    "device-history": api(),
    "api-device-thresholds": api(),
    "api-device-threshold-history": api(),
    "api-device-threshold-revert": api(write=TRIAGE),
    "api-device-threshold": api(write=TRIAGE),
    "api-device-threshold-preview": api(write=ROLES),  # a what-if: changes nothing
    "api-cohort-thresholds": api(),
    "api-cohort-threshold": api(write=MODELS),
    "api-equipment-profiles": api(write=MODELS),
    "api-equipment-profile": api(write=MODELS),
    "api-equipment-profile-history": api(),
    "api-sites": api(),
    "api-site": api(),
    "api-overview": api(OVERVIEW),
    "notification-preferences-me": api(write=ROLES),
    "notifications": api(),
    # ------------------------------------------------------------ API: monitoring
    "api-monitoring-ops": api(OPS),
    "api-monitor-alerts": api(OPS),
    "api-monitoring-slas": api(OPS),
    "api-monitoring-ml": api(MODELS),
    "api-monitoring-ml-figures": api(MODELS),
    "api-monitoring-ml-drift": api(MODELS),
    "api-monitoring-ml-run-metrics": api(MODELS),
    "api-monitoring-ml-top-flagged": api(MODELS),
    "api-monitoring-detection": api(MODELS),
    "api-monitoring-detection-evaluation": api(MODELS, obj="evaluation"),
    "api-monitoring-data": api(MODELS),
    "api-monitoring-data-hourly": api(MODELS),
    "api-monitoring-data-daily": api(MODELS),
    "api-monitoring-data-figures": api(MODELS),
    "retraining-triggers": api(write=MODELS),
    "retraining-trigger-detail": api(obj="trigger"),
    # ------------------------------------------------------------ API: scoring
    "models": api(),
    "models-rollback": api(write=MODELS),
    "models-train": api(write=MODELS),
    "model-detail": api(),
    "model-promote": api(write=MODELS),
    "scoring-runs": api(write=MODELS),
    "scoring-run-detail": api(),
    "scoring-staleness": api(),
    # ------------------------------------------------------------ API: ingest, schema, docs
    "ingest": Rule("gateway"),
    "api-schema": PUBLIC,
    "api-docs": PUBLIC,
    "api-redoc": PUBLIC,
}

# Every route of the Django admin: staff only (its own sign-in page excepted).
ADMIN_PUBLIC = {"admin:login", "admin:logout"}
