"""Role changes in the model registry: promote, roll back, reject; keep the last versions."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scoring.artifacts import artifact_dir
from scoring.models import ModelRole, ModelVersion, ModelVersionEvent

logger = logging.getLogger(__name__)


class RegistryError(ValueError):
    """A role change that the registry refuses; the message says why."""


def _event(version, action, from_role, actor, reason, details=None):
    ModelVersionEvent.objects.create(
        model_version=version,
        action=action,
        from_role=from_role,
        to_role=version.role,
        actor=actor,
        reason=reason,
        details=details or {},
    )


def model_set_role(
    *, version: ModelVersion, role: str, actor: str, reason: str, force: bool = False
) -> ModelVersion:
    """Give a version a role. Promoting to production retires the current production version.

    Promotion is refused while `promotion_blockers` lists a reason (regression, canary,
    shadow period); `force` overrides it and the event records what was overridden.
    """
    from scoring.services.validation import promotion_blockers

    if role not in ModelRole.values:
        raise RegistryError(f"unknown role {role!r}; choose one of {', '.join(ModelRole.values)}")
    if not reason.strip():
        raise RegistryError("a reason is required")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.role == role:
            raise RegistryError(f"{version.model_id} is already {role}")
        if not version.artifact_path:
            raise RegistryError(f"{version.model_id} has no artifact left (pruned); retrain")
        overridden = []
        if role == ModelRole.PRODUCTION:
            blockers = promotion_blockers(version=version)
            if blockers and not force:
                raise RegistryError(
                    f"{version.model_id} cannot be promoted: " + "; ".join(blockers)
                )
            overridden = blockers
            current = (
                ModelVersion.objects.select_for_update()
                .filter(kind=version.kind, role=ModelRole.PRODUCTION)
                .first()
            )
            if current:
                current.role = ModelRole.RETIRED
                current.save(update_fields=["role"])
                _event(
                    current,
                    "retired",
                    ModelRole.PRODUCTION,
                    actor,
                    f"replaced by {version.model_id}",
                )
            version.promoted_at = timezone.now()
        previous = version.role
        version.role = role
        version.save(update_fields=["role", "promoted_at"])
        _event(
            version,
            "promoted" if role == ModelRole.PRODUCTION else "role_changed",
            previous,
            actor,
            reason,
            {"overridden": overridden} if overridden else None,
        )
    model_prune(kind=version.kind)
    logger.info("%s: %s -> %s by %s (%s)", version.model_id, previous, role, actor, reason)
    return version


def model_rollback(*, kind: str, actor: str, reason: str) -> ModelVersion:
    """Put back the version that was in production before the current one."""
    if not reason.strip():
        raise RegistryError("a reason is required")
    with transaction.atomic():
        current = ModelVersion.objects.filter(kind=kind, role=ModelRole.PRODUCTION).first()
        if current is None:
            raise RegistryError(f"no production version of {kind} to roll back")
        earlier = (
            ModelVersion.objects.filter(
                kind=kind,
                promoted_at__isnull=False,
                promoted_at__lt=current.promoted_at,
            )
            .exclude(artifact_path="")
            .order_by("-promoted_at")
            .first()
        )
        if earlier is None:
            raise RegistryError(
                f"{current.model_id} has no earlier production version to roll back to"
            )
        current.role = ModelRole.RETIRED
        current.save(update_fields=["role"])
        _event(current, "rolled_back", ModelRole.PRODUCTION, actor, reason)
        previous = earlier.role
        earlier.role = ModelRole.PRODUCTION
        earlier.save(update_fields=["role"])
        _event(earlier, "restored", previous, actor, reason, {"replaces": current.model_id})
    return earlier


def model_reject(*, version: ModelVersion, actor: str, reason: str, details: dict) -> None:
    """Retire a candidate that failed validation, keeping the evidence."""
    previous = version.role
    version.role = ModelRole.RETIRED
    version.save(update_fields=["role"])
    _event(version, "rejected", previous, actor, reason, details)


def model_prune(*, kind: str) -> list[str]:
    """Delete the artifacts of retired versions older than the newest few of their kind.

    FLEETMON_MODEL_VERSIONS_KEPT versions keep their files, so rollback stays one action;
    a version in use (production or candidate) is never pruned. Rows stay: scores and run
    ledgers refer to them.
    """
    keep = settings.FLEETMON_MODEL_VERSIONS_KEPT
    newest = ModelVersion.objects.filter(kind=kind).order_by("-created_at")[:keep]
    old = (
        ModelVersion.objects.filter(kind=kind, role=ModelRole.RETIRED)
        .exclude(artifact_path="")
        .exclude(pk__in=[v.pk for v in newest])
    )
    pruned = []
    for version in old:
        (artifact_dir() / version.artifact_path).unlink(missing_ok=True)
        ModelVersion.objects.filter(pk=version.pk).update(artifact_path="")
        pruned.append(version.model_id)
    return pruned
