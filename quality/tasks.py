from datetime import datetime

from celery import shared_task
from django.utils import timezone

from quality.services import dropout_detect


@shared_task(time_limit=15 * 60, soft_time_limit=14 * 60)
def detect_dropout_task(now_iso: str | None = None) -> dict[str, int]:
    """Hourly: dropout state and health of every active device (D12, D14)."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    return dropout_detect(now=now)
