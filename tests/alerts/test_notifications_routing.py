"""The notification routing table (domain §3.7, C6 Action column) as a pure function."""

from alerts.notifications.routing import AlertFacts, Delivery, Person, looks_like_email, route

WEST = {"region": "US-W", "site_id": "SITE-W-1"}
TEAM_HOOK = "https://chat.example.com/hooks/ops"

alice = Person("alice", "alice@example.com", is_operator=True, regions=("US-W",))
bob = Person("bob", "bob@example.com", is_operator=True, regions=("US-E",))
sam = Person("sam", "sam@example.com", is_operator=True, sites=("SITE-W-1",))
picky = Person(
    "picky",
    "picky@example.com",
    is_operator=True,
    regions=("US-W",),
    channels=("email", "webhook"),
    min_severity="HIGH",
    webhook_url="https://hooks.example.com/picky",
)
pager = Person("pager", "pager@example.com", channels=("webhook",), on_call=True,
               webhook_url="https://pager.example.com/in")  # fmt: skip
manager = Person("manager", "manager@example.com")  # fleet-wide, not on call


def recipients(deliveries: list[Delivery]) -> set[tuple[str, str, str]]:
    return {(d.channel, d.recipient, d.reason) for d in deliveries}


def test_low_alerts_are_dashboard_only():
    low = AlertFacts(severity="LOW", **WEST)
    everyone = [alice, sam, pager, Person("eager", "e@x.io", True, ("US-W",), min_severity="LOW")]
    assert route(low, everyone, team_webhook=TEAM_HOOK) == []


def test_medium_emails_the_site_team_by_region_and_by_site():
    medium = AlertFacts(severity="MEDIUM", **WEST)
    assert recipients(route(medium, [alice, bob, sam, manager], team_webhook=TEAM_HOOK)) == {
        ("email", "alice@example.com", "site_team"),
        ("email", "sam@example.com", "site_team"),
    }


def test_out_of_scope_operators_and_fleet_wide_users_hear_nothing():
    for severity in ("MEDIUM", "HIGH", "CRITICAL"):
        assert route(AlertFacts(severity=severity, **WEST), [bob, manager]) == []


def test_min_severity_is_honoured():
    assert route(AlertFacts(severity="MEDIUM", **WEST), [picky]) == []
    assert recipients(route(AlertFacts(severity="HIGH", **WEST), [picky])) == {
        ("email", "picky@example.com", "site_team"),
        ("webhook", "https://hooks.example.com/picky", "site_team"),
    }


def test_no_channels_chosen_silences_the_site_team():
    quiet = Person("quiet", "q@example.com", is_operator=True, regions=("US-W",), channels=())
    assert route(AlertFacts(severity="CRITICAL", **WEST), [quiet]) == []


def test_high_also_goes_to_the_team_webhook_and_medium_does_not():
    high = recipients(route(AlertFacts(severity="HIGH", **WEST), [alice], team_webhook=TEAM_HOOK))
    assert ("webhook", TEAM_HOOK, "team_channel") in high
    medium = route(AlertFacts(severity="MEDIUM", **WEST), [alice], team_webhook=TEAM_HOOK)
    assert all(d.channel == "email" for d in medium)


def test_critical_reaches_on_call_whatever_their_scope():
    critical = AlertFacts(severity="CRITICAL", **WEST)
    assert recipients(route(critical, [alice, bob, pager])) == {
        ("email", "alice@example.com", "site_team"),
        ("webhook", "https://pager.example.com/in", "on_call"),
    }
    # HIGH is not an on-call matter.
    assert route(AlertFacts(severity="HIGH", region="US-E", site_id="S-E"), [pager]) == []


def test_on_call_without_channels_is_still_reached_by_email():
    duty = Person("duty", "duty@example.com", channels=(), on_call=True)
    assert recipients(route(AlertFacts(severity="CRITICAL", **WEST), [duty])) == {
        ("email", "duty@example.com", "on_call")
    }


def test_one_delivery_per_channel_and_recipient_with_every_reason():
    both = Person("both", "both@example.com", is_operator=True, regions=("US-W",), on_call=True)
    deliveries = route(AlertFacts(severity="CRITICAL", **WEST), [both, both])
    assert deliveries == [Delivery("email", "both@example.com", "site_team+on_call")]


def test_escalation_reaches_the_escalation_address_on_call_and_team_channel():
    escalated = AlertFacts(
        severity="MEDIUM", escalation_level="L2", escalated_to="regional@example.com", **WEST
    )
    assert recipients(route(escalated, [alice, pager], team_webhook=TEAM_HOOK)) == {
        ("email", "alice@example.com", "site_team"),
        ("email", "regional@example.com", "escalated_to"),
        ("webhook", "https://pager.example.com/in", "on_call"),
        ("webhook", TEAM_HOOK, "team_channel"),
    }


def test_an_escalation_to_a_name_rather_than_an_address_mails_no_one_extra():
    escalated = AlertFacts(
        severity="MEDIUM", escalation_level="L3", escalated_to="Kelvin Refrigeration Ltd", **WEST
    )
    assert recipients(route(escalated, [alice])) == {("email", "alice@example.com", "site_team")}


def test_suppressed_and_closed_alerts_reach_nobody():
    for facts in (
        AlertFacts(severity="CRITICAL", suppressed=True, **WEST),
        AlertFacts(severity="CRITICAL", status="resolved", **WEST),
        AlertFacts(severity="CRITICAL", status="false_positive", **WEST),
    ):
        assert route(facts, [alice, pager], team_webhook=TEAM_HOOK) == []


def test_a_user_without_an_address_on_a_channel_is_skipped_on_it():
    no_mail = Person("nomail", "", is_operator=True, regions=("US-W",))
    assert route(AlertFacts(severity="HIGH", **WEST), [no_mail]) == []


def test_email_address_recognition():
    assert looks_like_email("ops@kelvin.example.com")
    assert looks_like_email("  ops@kelvin.example.com ")
    for value in ("regional engineer", "ops@", "a@b", "Ops <ops@x.com>", "a@b.com, c@d.com"):
        assert not looks_like_email(value)
