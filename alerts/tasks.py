from celery import shared_task

from alerts.services import alerts_from_run


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def alerts_from_run_task(run_id: int) -> dict[str, int]:
    """After each scoring run: alerts, reconciliation, device pre-hydration."""
    return alerts_from_run(run_id=run_id)


@shared_task(time_limit=5 * 60, soft_time_limit=4 * 60)
def auto_escalate_task() -> dict[str, int]:
    """Every minute: escalate to L2 what passed its SLA deadline unacknowledged (§7.3)."""
    from alerts.escalation import auto_escalate

    return auto_escalate()


@shared_task(time_limit=60, soft_time_limit=50)
def site_offline_check_task(now: str | None = None) -> dict[str, int]:
    """Every minute: one incident per site gone silent, closed when it reports (issue 11)."""
    from datetime import datetime

    from django.utils import timezone

    from alerts.site_offline import site_offline_check

    return site_offline_check(now=datetime.fromisoformat(now) if now else timezone.now())


@shared_task(time_limit=60, soft_time_limit=50)
def shelve_expiry_task() -> int:
    """Every minute: shelved alerts whose time is up come back and are notified again."""
    from alerts.shelving import shelve_expire

    return shelve_expire()
