"""The score staleness policy (domain §4.5). Django-free.

< 1 h fresh; 1-2 h "scores delayed" banner; 2-4 h the rules fallback alerts; > 4 h scores
are withdrawn from devices and only the streaming rules cover acute failures.
"""

from datetime import timedelta

FRESH = "fresh"
DELAYED = "delayed"
RULES_FALLBACK = "rules_fallback"
STREAMING_ONLY = "streaming_only"

POLICY = (
    (timedelta(hours=1), FRESH),
    (timedelta(hours=2), DELAYED),
    (timedelta(hours=4), RULES_FALLBACK),
)


def staleness_state(age: timedelta | None) -> str:
    """The policy state for scores of this age (None: there are no scores at all)."""
    if age is None:
        return STREAMING_ONLY
    for limit, state in POLICY:
        if age < limit:
            return state
    return STREAMING_ONLY
