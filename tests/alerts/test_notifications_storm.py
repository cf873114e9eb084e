"""A storm of CRITICAL alerts is one incident for the people paged: each recipient hears of
it once, not once per alert."""

import pytest
from django.utils import timezone

from alerts.models import Notification, StormIncident
from alerts.notifications.services import alert_route
from tests.alerts.notification_fixtures import cast, east, make_alert, west  # noqa: F401

pytestmark = pytest.mark.django_db


def test_each_recipient_hears_of_a_storm_once(cast, west, east):  # noqa: F811
    now = timezone.now()
    storm = StormIncident.objects.create(
        scope="site", site_id=west.site_id, region=west.region, started_at=now, last_alert_at=now
    )
    first = make_alert(west, "CRITICAL", storm=storm)
    alert_route(alert_id=first.pk)
    told = set(Notification.objects.filter(alert=first).values_list("recipient", flat=True))
    assert told == {"alice@example.com", "sam@example.com", "olga@example.com"}

    for i in range(5):
        later = make_alert(west, "CRITICAL", storm=storm, dedup_key=f"storm-{i}")
        assert alert_route(alert_id=later.pk) == []
    # An alert outside the storm is news again.
    alone = make_alert(west, "CRITICAL", dedup_key="alone")
    assert len(alert_route(alert_id=alone.pk)) == 3
