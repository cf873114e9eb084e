"""Signals scoring sends for apps that build on it (alerts listens; scoring imports nobody)."""

from django.dispatch import Signal

# Sent after commit when a scoring run has closed and its candidates were compared.
# Keyword argument: run_id.
run_finished = Signal()
