"""Role × route: every route of the URL resolver, with every method the OpenAPI schema gives an
API route, requested as anonymous, as a user without a role and as each role, on objects in
and out of the caller's scope, and compared with route_rules.RULES (deny by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import MaintenanceWindow, SavedView
from alerts.thresholds import threshold_set
from fleetmon.accounts.models import Profile
from fleetmon.registry.services import equipment_profiles_seed
from monitoring.models import DetectionEvaluation, RetrainingTrigger
from scoring.models import ModelVersion, ScoringRun
from tests.accounts.route_rules import ADMIN_PUBLIC, OPERATORS, RULES, Rule
from tests.conftest import register_devices
from tests.registry.console_cast import make_alert

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "outsider", "operator_a", "operator_b", "ml_engineer", "manager", "admin")
SCOPED = {"alert_id", "device_id", "site_id"}  # routes taking one of these are region-scoped
SAFE = {"GET", "HEAD", "OPTIONS"}
WEST, EAST = "US-W", "US-E"
THRESHOLD = "door_open_max_minutes"


# ---------------------------------------------------------------- the routes


@dataclass(frozen=True)
class Route:
    name: str  # with its namespace: "admin:login"
    path: str  # the pattern as written: "api/v1/devices/<str:device_id>/"
    kwargs: tuple[str, ...]

    @property
    def api(self) -> bool:
        return self.path.startswith("api/")

    @property
    def openapi_path(self) -> str:
        """The path as the schema writes it (drf-spectacular calls a `pk` `id`)."""
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/" + self.path)
        return path.replace("{pk}", "{id}")


def resolver_routes() -> list[Route]:
    found = []

    def walk(patterns, prefix: str, namespace: str, kwargs: tuple[str, ...]):
        for entry in patterns:
            names = _kwarg_names(entry.pattern)
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), inner, kwargs + names)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}{entry.name}" if entry.name else ""
                found.append(Route(name, prefix + str(entry.pattern), kwargs + names))

    walk(get_resolver().url_patterns, "", "", ())
    return found


def _kwarg_names(pattern) -> tuple[str, ...]:
    if hasattr(pattern, "converters") and pattern.converters:
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def rule_of(route: Route) -> Rule:
    if route.name.startswith("admin:"):
        return Rule("public", methods=("GET",)) if route.name in ADMIN_PUBLIC else Rule("staff")
    return RULES[route.name]


def api_methods(schema: dict) -> dict[str, list[str]]:
    return {path: [m.upper() for m in item] for path, item in schema["paths"].items()}


# ---------------------------------------------------------------- the world


@dataclass
class World:
    users: dict
    alerts: dict
    devices: dict
    sites: dict
    history: dict
    cohort: str
    saved_views: dict
    objects: dict


def build_world() -> World:
    """Two regions with a device, site and alert each, and one of every other object."""
    users = {"anonymous": None}
    model = get_user_model()
    users["outsider"] = model.objects.create_user("outsider")
    for name, role, regions in [
        ("operator_a", "operator", [WEST]),
        ("operator_b", "operator", [EAST]),
        ("ml_engineer", "ml_engineer", []),
        ("manager", "manager", []),
    ]:
        users[name] = model.objects.create_user(name)
        Profile.objects.create(user=users[name], role=role, regions=regions)
    users["admin"] = model.objects.create_superuser("admin", "admin@example.com", None)
    west = register_devices(1, region=WEST, site_no=1)[0]
    east = register_devices(1, region=EAST, site_no=2)[0]
    equipment_profiles_seed(actor="test")
    history = {
        region: threshold_set(
            parameter=THRESHOLD, value=20, device=device, actor="test", reason="matrix"
        ).pk
        for region, device in ((WEST, west), (EAST, east))
    }
    saved_views = {
        name: SavedView.objects.create(user=user, name="mine", filters={}).pk
        for name, user in users.items()
        if user is not None
    }
    now = timezone.now()
    run = ScoringRun.objects.create(trigger="on_demand", window_minutes=15, window_end=now)
    version = ModelVersion.objects.create(
        model_id="isolation_forest_v1",
        kind="isolation_forest",
        version="1.1.0",
        feature_names=["temp_evaporator_mean"],
        threshold=0.6,
        training_window_start=now - timedelta(days=7),
        training_window_end=now - timedelta(days=1),
        artifact_path="isolation_forest_v1.model",
        artifact_sha256="ab" * 32,
        artifact_format_version=1,
    )
    evaluation = DetectionEvaluation.objects.create(
        requested_by="test", seed=1, devices=10, history_days=1, test_days=1
    )
    window = MaintenanceWindow.objects.create(
        scope="cohort",
        cohort_id=west.cohort_id,
        kind="one_off",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        reason="matrix",
        created_by="test",
        created_at=now,
    )
    trigger = RetrainingTrigger.objects.create(
        trigger_kind="manual",
        model_kind="isolation_forest",
        fired_at=now,
        summary="matrix",
        action="retrain",
    )
    return World(
        users=users,
        alerts={WEST: make_alert(west).pk, EAST: make_alert(east).pk},
        devices={WEST: west.pk, EAST: east.pk},
        sites={WEST: west.site_id, EAST: east.site_id},
        history=history,
        cohort=west.cohort_id,
        saved_views=saved_views,
        objects={
            "run": run.pk,
            "model": version.model_id,
            "evaluation": evaluation.pk,
            "trigger": trigger.pk,
            "maintenance_window": window.pk,
        },
    )


def url_for(route: Route, rule: Rule, world: World, actor: str, which: str) -> str:
    """The route's URL for an object in the actor's region (`own`) or outside it (`other`)."""
    home = EAST if actor == "operator_b" else WEST
    region = home if which == "own" else ({WEST, EAST} - {home}).pop()
    owner = actor if which == "own" else ("manager" if actor != "manager" else "admin")
    pk = {
        "saved_view": world.saved_views.get(owner, world.saved_views["manager"]),
        "evaluation": world.objects["evaluation"],
        "trigger": world.objects["trigger"],
        "maintenance_window": world.objects["maintenance_window"],
    }.get(rule.obj)
    values = {
        "alert_id": world.alerts[region],
        "device_id": world.devices[region],
        "site_id": world.sites[region],
        "history_id": world.history[region],
        "cohort_id": world.cohort,
        "parameter": THRESHOLD,
        "equipment_model": "WF-5HP",
        "run_id": world.objects["run"],
        "model_id": world.objects["model"],
        "pk": pk,
        "slug": "compressor-overload",
        "uidb64": "MQ",
        "token": "set-password",
        "app_label": "auth",
        "object_id": "0",
        "id": "0",
        "content_type_id": 1,
    }
    return reverse(route.name, kwargs={k: values[k] for k in route.kwargs})


# ---------------------------------------------------------------- expectations


def expected(route: Route, rule: Rule, actor: str, method: str, which: str) -> str:
    """allowed | any (even the sign-in page) | login | admin_login | denied (401/403)
    | forbidden (403) | hidden (404) | unauthorized (401)."""
    if rule.kind == "public":
        return "any" if route.name in ("logout", "admin:logout") else "allowed"
    if rule.kind == "gateway":
        return "unauthorized"
    if rule.kind == "staff":
        # The admin may still refuse an action its ModelAdmin does not offer (403).
        return "staff" if actor == "admin" else "admin_login"
    if actor == "anonymous":
        return "denied" if route.api else "login"
    if rule.kind == "signed_in":
        return "allowed"
    if actor == "outsider":
        return "forbidden"
    if actor not in (rule.read if method in SAFE else rule.write):
        return "forbidden"
    if which == "other" and (rule.owned or (actor in OPERATORS and SCOPED & set(route.kwargs))):
        return "hidden"
    return "allowed"


def verdict(response, wanted: str) -> bool:
    status = response.status_code
    location = response.get("Location", "") if status in (301, 302) else ""
    if wanted == "login":
        return location.startswith("/accounts/login/")
    if wanted == "admin_login":
        return location.startswith("/admin/login/")
    if wanted == "staff":
        return status < 500 and not location.startswith("/admin/login/")
    if wanted == "denied":
        return status in (401, 403)
    if wanted == "forbidden":
        return status == 403
    if wanted == "unauthorized":
        return status == 401
    if wanted == "hidden":
        return status == 404
    if status >= 500 or status in (401, 403):
        return False
    if wanted == "allowed" and location.startswith(("/accounts/login/", "/admin/login/")):
        return False
    return status != 404 or not route_needs_object(response)


def route_needs_object(response) -> bool:
    """A 404 is a refusal unless it is the Django admin's answer to a made-up object id."""
    return not response.wsgi_request.path.startswith("/admin/")


def request(client: APIClient, route: Route, method: str, url: str):
    if method in SAFE:
        return client.generic(method, url, HTTP_ACCEPT="application/json")
    if route.api:
        # Not an object: every serializer refuses it, so an allowed write changes nothing.
        return client.generic(method, url, '"not an object"', content_type="application/json")
    return client.generic(method, url, "", content_type="application/x-www-form-urlencoded")


# ---------------------------------------------------------------- tests


def test_every_route_is_classified_and_every_api_route_is_in_the_schema(client):
    routes = resolver_routes()
    # The admin's own unnamed helpers (redirects to a change page, its catch-all) excepted.
    unnamed = [r.path for r in routes if not r.name and not r.path.startswith("admin/")]
    unclassified = [
        r.name for r in routes if r.name and not r.name.startswith("admin:") and r.name not in RULES
    ]
    stale = sorted(set(RULES) - {r.name for r in routes})
    assert not unnamed, f"name these routes so they can be classified: {unnamed}"
    assert not unclassified, f"classify these routes in route_rules.RULES: {unclassified}"
    assert not stale, f"these rules name no route any more: {stale}"
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    in_schema = set(schema["paths"])
    api_routes = {r.openapi_path for r in routes if r.api and RULES[r.name].kind != "public"}
    assert api_routes - in_schema == set(), "API routes missing from the OpenAPI schema"
    assert in_schema - api_routes == set(), "schema paths that no route serves"


@pytest.mark.parametrize("actor", ACTORS)
def test_each_route_answers_each_caller_as_declared(actor):
    world = build_world()
    client = APIClient()
    if world.users[actor] is not None:
        client.force_login(world.users[actor])
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    methods = api_methods(schema)
    wrong = []
    checked = 0
    for route in resolver_routes():
        if not route.name:
            continue  # the admin's unnamed helpers: nothing to reverse
        rule = rule_of(route)
        scoped = rule.owned or bool(SCOPED & set(route.kwargs))
        route_methods = methods.get(route.openapi_path, rule.methods) if route.api else rule.methods
        if route.name == "admin:logout":
            route_methods = ("POST",)
        # Reads first: a write may change what a later read finds.
        for method in sorted(route_methods, key=lambda m: (m not in SAFE, m == "DELETE")):
            for which in ("own", "other") if scoped else ("own",):
                url = url_for(route, rule, world, actor, which)
                wanted = expected(route, rule, actor, method, which)
                response = request(client, route, method, url)
                checked += 1
                if not verdict(response, wanted):
                    wrong.append(
                        f"{method} {url} ({which}): wanted {wanted}, got "
                        f"{response.status_code} {response.get('Location', '')}"
                    )
        if route.name in ("logout", "admin:logout") and world.users[actor] is not None:
            client.force_login(world.users[actor])  # signed out by the request above
    assert not wrong, f"{actor}: {len(wrong)} of {checked} answers differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "route_name", sorted(r.name for r in resolver_routes() if r.api and SCOPED & set(r.kwargs))
)
def test_out_of_scope_answers_exactly_as_unknown(route_name):
    """An operator learns nothing from a 404: another region's object and a made-up id get
    the same status and body."""
    route = next(r for r in resolver_routes() if r.name == route_name)
    world = build_world()
    rule = RULES[route_name]
    client = APIClient()
    client.force_login(world.users["operator_a"])
    other = url_for(route, rule, world, "operator_a", "other")
    made_up = other
    for region in (EAST,):
        for value in (world.alerts[region], world.devices[region], world.sites[region]):
            made_up = made_up.replace(
                str(value),
                "00000000-0000-0000-0000-000000000000"
                if value == world.alerts[region]
                else "NO-SUCH-ID",
            )
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    method = api_methods(schema)[route.openapi_path][0]
    hidden, unknown = request(client, route, method, other), request(client, route, method, made_up)
    assert (hidden.status_code, hidden.json()) == (unknown.status_code, unknown.json())
    assert hidden.status_code == 404
