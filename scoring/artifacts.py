"""Fitted models as files: written atomically, named by model id, checked by SHA-256 on load.

The database keeps only the path and the checksum (no pickles in the ORM); the bytes are
whatever the detector's `to_bytes` produced, which carries its own format version.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings


class ArtifactError(RuntimeError):
    """The artifact file is missing or its checksum does not match the registry."""


def artifact_dir() -> Path:
    return Path(settings.FLEETMON_ARTIFACT_DIR)


def artifact_save(*, name: str, payload: bytes) -> tuple[str, str]:
    """Write `payload` as `<name>.model`; return (path relative to the artifact dir, sha256)."""
    folder = artifact_dir()
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"{name}.model"
    # Write to a temporary file in the same folder, then rename: readers never see half a file.
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, folder / relative)
    return relative, hashlib.sha256(payload).hexdigest()


def artifact_load(*, path: str, sha256: str) -> bytes:
    """Read an artifact and verify it against the checksum recorded at training."""
    try:
        payload = (artifact_dir() / path).read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"model artifact {path} is missing from {artifact_dir()}") from exc
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise ArtifactError(f"model artifact {path} is corrupt: sha256 {actual} != {sha256}")
    return payload
