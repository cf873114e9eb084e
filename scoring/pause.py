"""The switch that pauses scheduled batch scoring.

Domain §3.7: a feature store stale for more than 2 h is CRITICAL: page, pause batch scoring,
notify ops. Scoring stale windows would only re-score old data and hide the outage; the
streaming rules keep covering acute failures meanwhile. The switch lives in Redis so every
beat and worker process sees it at once; monitoring's freshness check turns it on and off.
On-demand runs are not paused: a person asking for one has decided.
"""

from fleetmon.streams import client

KEY = "fleetmon:scoring:paused"


def scoring_pause(reason: str) -> None:
    client().set(KEY, reason)


def scoring_resume() -> bool:
    """Lift the pause; True when there was one."""
    return bool(client().delete(KEY))


def scoring_paused() -> str | None:
    """Why scheduled scoring is paused, or None when it is not."""
    reason = client().get(KEY)
    return reason.decode() if reason is not None else None
