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
