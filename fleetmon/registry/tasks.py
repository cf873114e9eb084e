from celery import shared_task

from fleetmon.registry.out_of_service import out_of_service_expire


@shared_task(time_limit=60, soft_time_limit=50)
def out_of_service_expiry_task() -> int:
    """Every minute: devices whose out-of-service period has run out return to service."""
    return out_of_service_expire()
