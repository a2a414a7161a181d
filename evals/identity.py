"""What identifies a run: backend, model, prompt version, SOP corpus, code version, case set, date."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class CodeVersion(BaseModel):
    """The git commit the code was at, and whether the working tree had changes."""

    commit: str
    dirty: bool

    def __str__(self) -> str:
        return f"{self.commit[:12]}{' (dirty)' if self.dirty else ''}"


class RunIdentity(BaseModel):
    """Everything needed to tell two runs apart and to reproduce one."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    created_at: datetime
    backend: str
    model: str
    prompt_version: str
    sop_index_version: str  # SHA-256 of the SOP corpus files the index was built from
    code_version: CodeVersion
    case_set_path: str
    case_set_hash: str
    case_set_seeds: list[int] | None  # from a generated set's manifest
    confidence_threshold: float
    materiality_usd: str
    concurrency: int
    elapsed_s: float = 0.0


def code_version(root: Path = REPO_ROOT) -> CodeVersion:
    """``git rev-parse HEAD`` and ``git status --porcelain`` of `root` ("unknown" outside a repository)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return CodeVersion(commit="unknown", dirty=True)
    return CodeVersion(commit=commit, dirty=bool(status.strip()))


def sop_corpus_hash(folders: Iterable[Path]) -> str:
    """SHA-256 over every file of the SOP folders (relative path and bytes, in a stable order)."""
    digest = hashlib.sha256()
    for i, folder in enumerate(folders):
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for file in files:
            digest.update(f"{i}:{file.relative_to(folder).as_posix()}\n".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def new_run_id(backend: str, case_set_hash: str, now: datetime | None = None) -> str:
    """``20261125-173501-offline-1a2b3c4d-xxxx``: sortable by date, readable, unique."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{backend}-{case_set_hash[:8]}-{uuid.uuid4().hex[:4]}"
