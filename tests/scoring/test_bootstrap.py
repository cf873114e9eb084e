"""bootstrap_models: every kind asked for is tried, the outcome of each is printed as a
table, and the command fails when one of them is not deployed (issues 10 and 11)."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from scoring.models import ModelRole, ModelVersion
from scoring.services import bootstrap
from scoring.services.bootstrap import BootstrapOutcome, Outcome, models_bootstrap
from tests.scoring.history import (
    END,
    LACKING,
    backfill_history,
    register_fleet,
    regression_set_from_history,
)

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

# The line scripts/run.sh picks out of the log to say what the demo runs without.
RUN_SH_PATTERN = re.compile(r"^[a-z_]+ +not deployed ", re.MULTILINE)


@pytest.fixture
def bootstrap_settings(settings, tmp_path):
    settings.FLEETMON_ARTIFACT_DIR = str(tmp_path / "artifacts")
    settings.FLEETMON_TRAINING_GAP_HOURS = 1
    settings.FLEETMON_VALIDATION_HOURS = 2
    settings.FLEETMON_TRAINING_MIN_ROWS = 20
    return settings


def rows(out: str) -> dict[str, str]:
    """The table's lines by kind."""
    return {line.split()[0]: line for line in out.splitlines()[1:]}


def test_a_fleet_without_vibration_or_humidity_deploys_every_kind_and_exits_zero(
    bootstrap_settings, capsys
):
    # Older units that never had the two sensors: training once crashed with "cannot fit on
    # an empty frame" here and tried no other kind.
    fleet = register_fleet({"WF-5HP": 12})
    backfill_history(fleet, hours=72, lacking={"WF-5HP": LACKING}, daily=True)
    regression_set_from_history()

    call_command("bootstrap_models", "--until", END.isoformat(), "--days", "3")

    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "kind",
        "outcome",
        "version",
        "training",
        "windows",
        "reason",
    ]
    table = rows(out)
    assert list(table) == list(bootstrap.KINDS)
    for kind in bootstrap.KINDS:
        assert re.match(rf"{kind} +deployed +{kind}_v1 ", table[kind]), table[kind]
    assert re.search(r"isolation_forest_v1 +3,312 *$", table["isolation_forest"])
    assert set(ModelVersion.objects.values_list("role", flat=True)) == {ModelRole.PRODUCTION}
    forest = ModelVersion.objects.get(kind="isolation_forest")
    assert not any(n.startswith(("vibration_", "humidity_")) for n in forest.feature_names)
    assert forest.training_window_end == END - timedelta(hours=3)


def test_a_kind_not_deployed_is_named_with_its_reason_and_the_command_fails(
    bootstrap_settings, capsys
):
    fleet = register_fleet({"WF-5HP": 12})
    backfill_history(fleet, hours=20)  # no full day yet: nothing for the daily model
    regression_set_from_history()
    until = END.isoformat()

    with pytest.raises(CommandError) as failure:
        call_command(
            "bootstrap_models",
            "--until",
            until,
            "--days",
            "1",
            "--kinds",
            "isolation_forest,daily_baseline",
        )

    assert str(failure.value) == "1 of 2 model kinds not deployed: daily_baseline"
    out = capsys.readouterr().out
    table = rows(out)
    assert re.match(r"isolation_forest +deployed +isolation_forest_v1 ", table["isolation_forest"])
    assert re.match(
        r"daily_baseline +not deployed +- +- +training failed: only 0 usable training windows "
        r"of 1440 min ending before 2026-11-25 09:00; need 20$",
        table["daily_baseline"],
    )
    assert [line.split()[0] for line in RUN_SH_PATTERN.findall(out)] == ["daily_baseline"]

    # Run again: what is deployed stays, and says so; the missing kind is tried again.
    with pytest.raises(CommandError):
        call_command(
            "bootstrap_models",
            "--until",
            until,
            "--days",
            "1",
            "--kinds",
            "isolation_forest",
            "daily_baseline",
        )
    again = rows(capsys.readouterr().out)
    assert re.match(
        r"isolation_forest +already in production +isolation_forest_v1 ", again["isolation_forest"]
    )
    assert "not deployed" in again["daily_baseline"]


def test_one_kind_crashing_does_not_stop_the_others(bootstrap_settings, monkeypatch):
    fleet = register_fleet({"WF-5HP": 12})
    backfill_history(fleet, hours=20)
    regression_set_from_history()
    real_train = bootstrap.model_train

    def train(*, kind, **kwargs):
        if kind == "statistical_baseline":
            raise ValueError("statistical_baseline: cannot fit on an empty frame")
        return real_train(kind=kind, **kwargs)

    monkeypatch.setattr(bootstrap, "model_train", train)

    outcomes = models_bootstrap(
        now=END, days=1, kinds=("statistical_baseline", "isolation_forest", "rules_fallback")
    )

    assert outcomes[0] == BootstrapOutcome(
        "statistical_baseline",
        Outcome.NOT_DEPLOYED,
        reason="ValueError: statistical_baseline: cannot fit on an empty frame",
    )
    assert [(o.kind, o.outcome) for o in outcomes[1:]] == [
        ("isolation_forest", Outcome.DEPLOYED),
        ("rules_fallback", Outcome.DEPLOYED),
    ]
    assert not ModelVersion.objects.filter(kind="statistical_baseline").exists()


def test_a_refused_promotion_keeps_the_draft_and_gives_the_gate_s_reason(bootstrap_settings):
    fleet = register_fleet({"WF-5HP": 12})
    backfill_history(fleet, hours=20)
    regression_set_from_history(visible=False)  # anomalies no model can see

    [outcome] = models_bootstrap(now=END, days=1, kinds=("isolation_forest",))

    assert outcome.outcome == Outcome.NOT_DEPLOYED
    assert outcome.model_id == "isolation_forest_v1"
    assert outcome.reason.startswith(
        "isolation_forest_v1 cannot be promoted: known anomalies: flags "
    )
    assert ModelVersion.objects.get().role == ModelRole.DRAFT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kinds", "isolation_forest,dbscan"],
            "--kinds unknown dbscan; known: isolation_forest,",
        ),
        (["--days", "0"], "--days must be positive, not 0"),
        (["--until", "soon"], "--until 'soon' is not an ISO 8601 date-time"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("bootstrap_models", *args)
    assert not ModelVersion.objects.exists()
