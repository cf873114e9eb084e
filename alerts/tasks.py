from celery import shared_task

from alerts.services import alerts_from_run


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def alerts_from_run_task(run_id: int) -> dict[str, int]:
    """After each scoring run: alerts, reconciliation, device pre-hydration."""
    return alerts_from_run(run_id=run_id)
