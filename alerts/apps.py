from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert ontology, score-to-alert, triage workflow, thresholds, websocket push."""

    name = "alerts"

    def ready(self) -> None:
        from alerts.tasks import alerts_from_run_task
        from scoring.signals import run_finished

        def on_run_finished(sender, run_id: int, **kwargs) -> None:
            alerts_from_run_task.delay(run_id)

        run_finished.connect(on_run_finished, dispatch_uid="alerts.on_run_finished", weak=False)

        from django.db import transaction
        from django.db.models.signals import post_save

        from alerts.events import publish_event
        from alerts.models import AlertEvent

        def on_event_saved(sender, instance, created, **kwargs) -> None:
            if created:  # pushed after commit: nobody hears of a row that rolled back
                transaction.on_commit(lambda: publish_event(instance.pk))

        post_save.connect(on_event_saved, sender=AlertEvent, dispatch_uid="alerts.push", weak=False)

        from alerts.notifications import signals as notification_signals

        notification_signals.connect()
