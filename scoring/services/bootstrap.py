"""First deployment: features for the history, the regression set, a production version of
every model kind that has none.

`manage.py bootstrap_models` prints the outcomes as a table; the detection replay harness
calls `models_bootstrap` to train every model "as of the end of the history". So it never
prints, and one kind failing (no usable windows, a refused promotion, a crash) is that
kind's outcome: the other kinds are still tried.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from scoring.features import WINDOW_MINUTES
from scoring.models import ModelVersion
from scoring.services.features import features_compute
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import TrainingFailed, model_train, rules_fallback_ensure
from scoring.services.validation import RegressionSetExists, production_of, regression_set_build

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (
    "isolation_forest",
    "statistical_baseline",
    "cohort_isolation_forest",
    "daily_baseline",
    "rules_fallback",
)
ACTOR = "bootstrap"


class Outcome(enum.StrEnum):
    DEPLOYED = "deployed"
    ALREADY_IN_PRODUCTION = "already in production"
    NOT_DEPLOYED = "not deployed"


@dataclass(frozen=True)
class BootstrapOutcome:
    """What happened to one model kind; `model_id` is the version deployed, kept or trained."""

    kind: str
    outcome: Outcome
    model_id: str = ""
    training_rows: int = 0
    reason: str = ""

    @property
    def deployed(self) -> bool:
        """Return whether the kind has a production version now."""
        return self.outcome != Outcome.NOT_DEPLOYED


def models_bootstrap(
    *, now: datetime, days: float, kinds: Sequence[str] = KINDS
) -> list[BootstrapOutcome]:
    """Deploy a first production version of each of `kinds`, as of `now`; one outcome each.

    1. Features of every window size for the `days` before `now` (the freshness monitors
       look for each feature dataset).
    2. The regression set, when it is not built yet; a failure to build it is named in the
       reason of every kind it then keeps out of production.
    3. Per kind, in order: nothing to do when it has a production version; otherwise train
       on the windows before `now` and promote, which the validation gates may refuse.
       Each kind runs in its own transaction, so a crash leaves nothing half-written and
       the next kind is still tried.

    Raises ValueError only for a bad argument (an unknown kind, a naive `now`).
    """
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown model kinds {unknown}; known: {', '.join(KINDS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not days > 0:
        raise ValueError(f"days must be positive, not {days}")
    start = now - timedelta(days=days)
    for minutes in WINDOW_MINUTES:
        rows = features_compute(minutes=minutes, start=start, end=now)
        logger.info("bootstrap: %d feature windows of %d min up to %s", rows, minutes, now)
    regression_problem = _regression_set_ensure()
    outcomes = []
    for kind in kinds:
        try:
            with transaction.atomic():
                outcome = _bootstrap_kind(kind, now)
        except Exception as exc:  # noqa: BLE001 - one kind's crash must not stop the others
            logger.exception("bootstrap: %s crashed", kind)
            outcome = BootstrapOutcome(kind, Outcome.NOT_DEPLOYED, reason=_describe(exc))
        if not outcome.deployed and regression_problem:
            outcome = BootstrapOutcome(
                kind,
                outcome.outcome,
                outcome.model_id,
                outcome.training_rows,
                f"{outcome.reason} ({regression_problem})",
            )
        logger.info("bootstrap: %s %s %s", kind, outcome.outcome, outcome.model_id)
        outcomes.append(outcome)
    return outcomes


def _regression_set_ensure() -> str:
    """Build the regression set when missing; return what went wrong, or ''."""
    try:
        regression_set_build()
    except RegressionSetExists:
        return ""
    except Exception as exc:  # noqa: BLE001 - reported in every kind it keeps back
        logger.exception("bootstrap: the regression set could not be built")
        return f"the regression set could not be built: {_describe(exc)}"
    return ""


def _bootstrap_kind(kind: str, now: datetime) -> BootstrapOutcome:
    current = production_of(kind)
    if current is not None and current.artifact_path:
        return _outcome(kind, Outcome.ALREADY_IN_PRODUCTION, current)
    if kind == "rules_fallback":
        return _outcome(kind, Outcome.DEPLOYED, rules_fallback_ensure())
    try:
        version = model_train(kind=kind, actor=ACTOR, now=now)
    except TrainingFailed as exc:
        return BootstrapOutcome(kind, Outcome.NOT_DEPLOYED, reason=f"training failed: {exc}")
    try:
        model_set_role(version=version, role="production", actor=ACTOR, reason="first deployment")
    except RegistryError as exc:
        # The draft stays in the registry, with its validation reports, for a person to judge.
        return _outcome(kind, Outcome.NOT_DEPLOYED, version, reason=str(exc))
    return _outcome(kind, Outcome.DEPLOYED, version)


def _outcome(
    kind: str, outcome: Outcome, version: ModelVersion, reason: str = ""
) -> BootstrapOutcome:
    return BootstrapOutcome(kind, outcome, version.model_id, version.training_rows, reason)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
