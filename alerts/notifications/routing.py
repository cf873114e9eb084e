"""Who hears of an alert, and how: a pure function over plain data (no Django).

The routing table (domain §3.7 and the Action column of the C6 severity table):

1. A suppressed alert (D6 dedup), a closed one, or a LOW one (dashboard only) reaches nobody.
2. MEDIUM and above reach the site team: the operators whose regions or sites cover the
   alert, each from their own minimum severity on their own channels. Without a
   preference that is e-mail from MEDIUM ("dashboard + email to the site team").
3. HIGH and above also go to the team webhook when one is configured (the "push" of C6,
   the `#refrigeration-ops` channel of §3.7).
4. CRITICAL also reaches every on-call user, whatever their scope ("on-call escalation").
5. An alert escalated to L2 or L3 also reaches the on-call users, the `escalated_to`
   address when it is an e-mail address, and the team webhook.

On-call users are reached on their chosen channels, or by e-mail when they chose none:
on-call duty cannot be silenced while it lasts. A recipient reached for several reasons
gets one delivery per channel, recorded with every reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EMAIL = "email"
WEBHOOK = "webhook"
CHANNELS = (EMAIL, WEBHOOK)
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
RANK = {severity: rank for rank, severity in enumerate(SEVERITIES, start=1)}
ACTIVE_STATUSES = ("open", "acknowledged", "in_progress")

LOWEST_NOTIFIED = "MEDIUM"  # C6: LOW alerts are dashboard only
TEAM_WEBHOOK_FROM = "HIGH"  # C6: push from HIGH
DEFAULT_CHANNELS = (EMAIL,)
DEFAULT_MIN_SEVERITY = "MEDIUM"

SITE_TEAM = "site_team"
ON_CALL = "on_call"
ESCALATED_TO = "escalated_to"
TEAM_CHANNEL = "team_channel"

_EMAIL_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True)
class AlertFacts:
    """What routing needs to know about an alert."""

    severity: str
    region: str
    site_id: str
    status: str = "open"
    suppressed: bool = False
    escalation_level: str = "L1"
    escalated_to: str = ""


@dataclass(frozen=True)
class Person:
    """A user as routing sees them. `channels is None`: no preference saved (the defaults)."""

    username: str
    email: str
    is_operator: bool = False
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    channels: tuple[str, ...] | None = None
    min_severity: str = DEFAULT_MIN_SEVERITY
    webhook_url: str = ""
    on_call: bool = False

    def covers(self, alert: AlertFacts) -> bool:
        return alert.region in self.regions or alert.site_id in self.sites


@dataclass(frozen=True)
class Delivery:
    channel: str
    recipient: str  # an e-mail address or a webhook URL
    reason: str  # why: site_team, on_call, escalated_to, team_channel, joined by "+"


def looks_like_email(value: str) -> bool:
    return bool(_EMAIL_ADDRESS.match(value.strip()))


def at_least(severity: str, floor: str) -> bool:
    return RANK.get(severity, 0) >= RANK[floor]


def route(alert: AlertFacts, people: Iterable[Person], *, team_webhook: str = "") -> list[Delivery]:
    """The deliveries `alert` calls for, one per (channel, recipient), in a stable order."""
    if alert.suppressed or alert.status not in ACTIVE_STATUSES:
        return []
    if not at_least(alert.severity, LOWEST_NOTIFIED):
        return []
    escalated = alert.escalation_level in ("L2", "L3")
    wanted: dict[tuple[str, str], list[str]] = {}

    def add(channel: str, recipient: str, reason: str) -> None:
        if recipient:
            reasons = wanted.setdefault((channel, recipient), [])
            if reason not in reasons:
                reasons.append(reason)

    for person in people:
        if person.is_operator and person.covers(alert):
            if at_least(alert.severity, _floor(person)):
                for channel in _channels(person, default=DEFAULT_CHANNELS):
                    add(channel, _address(person, channel), SITE_TEAM)
        if person.on_call and (alert.severity == "CRITICAL" or escalated):
            for channel in _channels(person, default=DEFAULT_CHANNELS) or DEFAULT_CHANNELS:
                add(channel, _address(person, channel), ON_CALL)
    if escalated and looks_like_email(alert.escalated_to):
        add(EMAIL, alert.escalated_to.strip(), ESCALATED_TO)
    if team_webhook and (at_least(alert.severity, TEAM_WEBHOOK_FROM) or escalated):
        add(WEBHOOK, team_webhook, TEAM_CHANNEL)
    return [
        Delivery(channel=channel, recipient=recipient, reason="+".join(reasons))
        for (channel, recipient), reasons in sorted(wanted.items())
    ]


def _floor(person: Person) -> str:
    """The person's minimum severity, never below what C6 notifies at all."""
    if RANK.get(person.min_severity, 0) > RANK[LOWEST_NOTIFIED]:
        return person.min_severity
    return LOWEST_NOTIFIED


def _channels(person: Person, *, default: tuple[str, ...]) -> tuple[str, ...]:
    return default if person.channels is None else person.channels


def _address(person: Person, channel: str) -> str:
    return person.email if channel == EMAIL else person.webhook_url
