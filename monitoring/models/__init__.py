"""Monitoring tables, one module per area; every model is re-exported here for Django."""

from monitoring.models.detection import *  # noqa: F403
from monitoring.models.drift import *  # noqa: F403
from monitoring.models.infra import *  # noqa: F403
from monitoring.models.loop import *  # noqa: F403
from monitoring.models.model_health import *  # noqa: F403
from monitoring.models.monitors import *  # noqa: F403
from monitoring.models.quality import *  # noqa: F403
