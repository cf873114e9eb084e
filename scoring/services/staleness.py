"""How fresh the production scores are, per model and for the fleet (domain §4.5)."""

from datetime import datetime, timedelta

from scoring.selectors import latest_production_scores
from scoring.staleness import staleness_state


def scoring_staleness(*, now: datetime) -> dict:
    """The policy state per production model, and the fleet's: that of its freshest model.

    Age is measured from the scored window's end, which is when its readings were taken:
    a run that re-scores an old window does not make the fleet look fresh.
    """
    models = []
    # Older scores than a week change nothing: such a model is streaming-only either way.
    for row in latest_production_scores(since=now - timedelta(days=7)):
        age = now - row["latest_window_end"] if row["latest_window_end"] else None
        models.append(
            {
                **row,
                "age_minutes": None if age is None else round(age.total_seconds() / 60, 1),
                "state": staleness_state(age),
            }
        )
    ages = [now - m["latest_window_end"] for m in models if m["latest_window_end"]]
    freshest = min(ages) if ages else None
    return {
        "as_of": now,
        "state": staleness_state(freshest),
        "age_minutes": None if freshest is None else round(freshest.total_seconds() / 60, 1),
        "models": models,
    }
