"""The alert detail API, the score history, related alerts, runbooks and the alert page."""

from datetime import timedelta

import pytest
from django.test import Client

from alerts.runbook_map import (
    MODEL_KIND_RUNBOOKS,
    RULE_RUNBOOKS,
    render_markdown,
    runbook_for,
    runbook_path,
    runbook_slug,
)
from scoring.detectors.registry import DETECTORS
from scoring.models import ModelScore, ModelVersion
from scoring.streaming.rules import RULES
from tests.alerts.alert_cast import ago, api_as, cast, east, make_alert, west  # noqa: F401

pytestmark = pytest.mark.django_db

C6_FIELDS = {
    "alert_id",
    "device_id",
    "site_id",
    "alert_type",
    "severity",
    "title",
    "description",
    "model_id",
    "anomaly_score",
    "top_contributors",
    "first_detected_at",
    "alert_created_at",
    "suppressed",
    "ontology_action_id",
    "status",
    "resolved_at",
    "escalation_level",
    "escalated_at",
    "escalated_to",
    "sla_deadline",
    "sla_breached",
}


def detail(user, alert) -> dict:
    response = api_as(user).get(f"/api/v1/alerts/{alert.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


# ---------------------------------------------------------------- the detail API


def test_the_detail_has_every_c6_field_and_what_the_page_shows(cast, west):  # noqa: F811
    alert = make_alert(
        west[0],
        source="batch",
        kind="isolation_forest",
        severity="HIGH",
        contributors=("vibration_compressor_max", "current_compressor_max"),
        scores=(6.5, 3.25),
        anomaly_score=0.91,
    )
    body = detail(cast["operator_a"], alert)
    assert C6_FIELDS <= set(body)
    assert (body["site_id"], body["site_name"], body["device"]["device_id"]) == (
        west[0].site_id,
        "Store 1",
        west[0].device_id,
    )
    assert body["device"]["cohort"] == "WF-5HP/temperate"
    assert body["contributors"] == [
        {"feature": "vibration_compressor_max", "label": "Compressor vibration", "score": 6.5},
        {"feature": "current_compressor_max", "label": "Compressor current", "score": 3.25},
    ]
    assert [(e["kind"], e["actor"]) for e in body["events"]] == [("created", "streaming")]
    assert body["runbook"] == {
        "slug": "equipment-anomaly",
        "url": "/runbooks/equipment-anomaly/",
        "title": "equipment anomaly (batch models)",
    }
    assert body["allowed_actions"] == [
        "acknowledge",
        "schedule_maintenance",
        "mark_false_positive",
        "resolve",
        "escalate",
    ]
    assert body["related_alerts"] == [] and body["maintenance_events"] == []


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("acknowledged", ["schedule_maintenance", "mark_false_positive", "resolve", "escalate"]),
        ("in_progress", ["mark_false_positive", "resolve", "escalate"]),
        ("resolved", []),
        ("false_positive", []),
    ],
)
def test_the_allowed_actions_follow_the_workflow(cast, west, status, allowed):  # noqa: F811
    alert = make_alert(west[0], status=status)
    assert detail(cast["operator_a"], alert)["allowed_actions"] == allowed


def test_suppressed_repeats_are_counted_not_listed(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    make_alert(
        west[0],
        at=alert.first_detected_at + timedelta(minutes=5),
        suppressed=True,
        suppressed_by=alert,
    )
    body = detail(cast["operator_a"], alert)
    assert body["suppressed_repeats"] == 1 and body["related_alerts"] == []


# ---------------------------------------------------------------- related alerts


def test_related_alerts_are_same_site_within_2h_or_same_device_and_contributor_in_7d(
    cast,  # noqa: F811
    west,  # noqa: F811
    east,  # noqa: F811
):
    at = ago(hours=1)
    alert = make_alert(west[0], at=at)  # dominant contributor: current_compressor
    site_near = make_alert(
        west[1],
        at=at + timedelta(minutes=100),
        kind="door_open_too_long",
        contributors=("door_open_close",),
    )
    make_alert(
        west[1], at=at - timedelta(hours=3), kind="defrost_overdue", contributors=("defrost_cycle",)
    )  # same site, too far apart
    same_cause = make_alert(west[0], at=at - timedelta(days=5))
    make_alert(west[0], at=at - timedelta(days=8))  # same cause, too long ago
    make_alert(
        west[0],
        at=at - timedelta(days=2),
        kind="vibration_spike",
        contributors=("vibration_compressor",),
    )  # same device, other cause
    make_alert(east, at=at)  # another site (and region)
    body = detail(cast["operator_a"], alert)
    related = {r["alert_id"]: r["relation"] for r in body["related_alerts"]}
    assert related == {
        str(site_near.pk): "same site, within 2 h",
        str(same_cause.pk): "same device and dominant contributor (current_compressor)",
    }
    # Newest first.
    order = [r["alert_id"] for r in body["related_alerts"]]
    assert order == [str(site_near.pk), str(same_cause.pk)]


def test_related_alerts_leave_out_suppressed_repeats_and_the_alert_itself(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    make_alert(west[1], at=alert.first_detected_at, suppressed=True)
    assert detail(cast["operator_a"], alert)["related_alerts"] == []


# ---------------------------------------------------------------- score history


def version(kind: str, threshold: float, role: str = "production") -> ModelVersion:
    return ModelVersion.objects.create(
        model_id=f"{kind}_v1",
        kind=kind,
        version="1.0.0",
        role=role,
        feature_names=["x"],
        threshold=threshold,
        artifact_path=f"{kind}.model",
        artifact_sha256="0" * 64,
        artifact_format_version=1,
    )


def score(model: ModelVersion, device_id: str, window_end, value: float) -> None:
    ModelScore.objects.create(
        device_id=device_id,
        window_start=window_end - timedelta(minutes=15),
        window_end=window_end,
        model_id=model.model_id,
        model_version=model.version,
        granularity="fleet",
        deployment_role=model.role,
        anomaly_score=value,
        anomaly_flag=value > model.threshold,
        threshold_used=model.threshold,
        scored_at=window_end,
        sensor_completeness=1.0,
    )


def test_score_history_per_model_within_24h_of_the_alert(cast, west):  # noqa: F811
    at = ago(hours=30).replace(minute=0, second=0, microsecond=0)
    alert = make_alert(west[0], at=at, source="batch", kind="isolation_forest")
    forest, baseline = version("isolation_forest", 0.7), version("statistical_baseline", 0.8)
    for hours, value in [(-25, 0.1), (-2, 0.4), (0, 0.97), (3, 0.9)]:
        score(forest, west[0].device_id, at + timedelta(hours=hours), value)
    score(baseline, west[0].device_id, at, 0.88)
    score(forest, west[1].device_id, at, 0.5)  # another device
    response = api_as(cast["operator_a"]).get(f"/api/v1/alerts/{alert.pk}/scores/")
    assert response.status_code == 200
    body = response.json()
    models = {m["model_id"]: m for m in body["models"]}
    assert set(models) == {"isolation_forest_v1", "statistical_baseline_v1"}
    assert [p["anomaly_score"] for p in models["isolation_forest_v1"]["points"]] == [0.4, 0.97, 0.9]
    assert models["isolation_forest_v1"]["points"][1]["anomaly_flag"] is True
    assert models["statistical_baseline_v1"]["kind"] == "statistical_baseline"
    traces = [t for t in body["figure"]["data"] if t.get("mode") == "lines+markers"]
    assert len(traces) == 2 and body["figure"]["layout"]["shapes"]  # the detection mark


def test_score_history_is_empty_for_a_device_never_scored(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    body = api_as(cast["manager"]).get(f"/api/v1/alerts/{alert.pk}/scores/").json()
    assert body["models"] == [] and body["figure"]["data"] == []


# ---------------------------------------------------------------- runbooks


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_streaming_rule_has_a_runbook(rule):
    slug = runbook_slug(source="streaming", model_kind_or_rule=rule)
    assert slug == RULE_RUNBOOKS[rule] and runbook_path(slug).is_file()


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_every_model_kind_has_a_runbook(kind):
    source = "fallback" if kind == "rules_fallback" else "batch"
    slug = runbook_slug(source=source, model_kind_or_rule=kind)
    assert slug == MODEL_KIND_RUNBOOKS[kind] and runbook_path(slug).is_file()


@pytest.mark.parametrize(
    ("source", "kind", "slug"),
    [
        ("streaming", "compressor_overload", "compressor-overload"),
        ("streaming", "vibration_spike", "vibration-spike"),
        ("streaming", "pressure_loss_acute", "pressure-drop"),
        ("streaming", "cooling_loss_total", "cooling-loss"),
        ("streaming", "defrost_too_long", "defrost-too-long"),
        ("streaming", "defrost_overdue", "defrost-overdue"),
        ("streaming", "door_open_too_long", "door-open-too-long"),
        ("batch", "isolation_forest", "equipment-anomaly"),
        ("batch", "cohort_isolation_forest", "equipment-anomaly"),
        ("batch", "statistical_baseline", "equipment-anomaly"),
        ("batch", "daily_baseline", "equipment-anomaly"),
        ("fallback", "rules_fallback", "rules-fallback"),
    ],
)
def test_an_alert_finds_its_runbook_from_its_source_and_kind(west, source, kind, slug):  # noqa: F811
    alert = make_alert(west[0], source=source, kind=kind)
    assert runbook_for(alert).slug == slug


def test_every_runbook_is_served_to_signed_in_users(cast):  # noqa: F811
    client = Client()
    client.force_login(cast["operator_b"])
    for slug in {*RULE_RUNBOOKS.values(), *MODEL_KIND_RUNBOOKS.values()}:
        response = client.get(f"/runbooks/{slug}/")
        assert response.status_code == 200, slug
        assert response.content.decode().startswith("# Runbook:")


def test_the_runbook_renderer_escapes_everything_but_its_own_markup():
    html = render_markdown(
        "# Title <b>\n\nText with `code` and **bold** <script>alert(1)</script>\n"
        "1. first\n   continued\n   - nested `x`\n     more\n2. second\n\n"
        "- a <img src=x onerror=y>\n\n"
        "```\n<raw> & co\n```\n"
    )
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "<h3>Title &lt;b&gt;</h3>" in html
    assert "<code>code</code>" in html and "<strong>bold</strong>" in html
    assert (
        "<ol><li>first continued<ul><li>nested <code>x</code> more</li></ul></li>"
        "<li>second</li></ol>"
    ) in html
    assert "<ul><li>a &lt;img src=x onerror=y&gt;</li></ul>" in html
    assert "<pre><code>&lt;raw&gt; &amp; co</code></pre>" in html


# ---------------------------------------------------------------- the page


def page(user, alert):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(f"/alerts/{alert.pk}/")


ACTION_FORMS = [
    'id="action-acknowledge"',
    'id="action-maintenance"',
    'id="action-false-positive"',
    'id="action-resolve"',
    'id="action-escalate"',
]


def test_an_operator_sees_the_page_with_every_action_form(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    response = page(cast["operator_a"], alert)
    assert response.status_code == 200
    html = response.content.decode()
    assert all(form in html for form in ACTION_FORMS)
    assert 'id="alert-status"' in html and 'id="alert-timeline"' in html
    assert alert.title in html and "Runbook: compressor overload (streaming, CRITICAL)" in html
    assert f'data-figures-url="/api/v1/devices/{alert.device_id}/history/?start=' in html
    assert f'data-scores-url="/api/v1/alerts/{alert.pk}/scores/"' in html
    assert 'name="reason" required' in html  # the false-positive reason


def test_a_manager_sees_the_page_without_action_forms(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    response = page(cast["manager"], alert)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="alert-timeline"' in html
    assert not any(form in html for form in ACTION_FORMS)


def test_an_operator_of_another_region_gets_404_for_the_page(cast, west):  # noqa: F811
    assert page(cast["operator_b"], make_alert(west[0])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(west):  # noqa: F811
    alert = make_alert(west[0])
    response = page(None, alert)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_timeline_shows_every_event_with_who_when_and_note(cast, west):  # noqa: F811
    alert = make_alert(west[0])
    client = api_as(cast["operator_a"])
    client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "calling <the> store"})
    html = page(cast["manager"], alert).content.decode()
    timeline = html.split('id="alert-timeline"')[1].split("</ol>")[0]
    assert "Created</strong> by streaming" in timeline
    assert "Acknowledged</strong> by operator_a" in timeline
    assert "calling &lt;the&gt; store" in timeline


@pytest.mark.storage
def test_the_page_chart_url_answers_with_the_device_history(cast, west):  # noqa: F811
    import html as html_lib
    import re

    alert = make_alert(west[0], at=ago(hours=2))
    html = page(cast["operator_a"], alert).content.decode()
    url = html_lib.unescape(re.search(r'data-figures-url="([^"]+)"', html).group(1))
    client = Client()
    client.force_login(cast["operator_a"])
    answer = client.get(url)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["device_id"] == alert.device_id
    assert body["figures"] and body["figures"][0]["figure"]["layout"]["shapes"]
