"""SOP files: markdown with a YAML front matter, parsed and validated.

A SOP file looks like::

    ---
    id: dropped_metering
    title: Dropped metering
    version: "3.1"
    categories: [dropped_metering]
    channels: [aws_marketplace, azure_marketplace]
    owner: billing-ops-metering
    updated: 2025-10-14
    ---
    # Dropped metering
    ## Symptoms
    ...

Every error raised here is a :class:`SOPError` whose message starts with the file's path,
because the person fixing it is editing one file among dozens.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

#: The discrepancy taxonomy (DOMAIN.md). Front matter must use exactly these slugs.
Category = Literal[
    "dropped_metering",
    "duplicate_metering",
    "rejected_metering",
    "wrong_dimension",
    "price_mismatch",
    "entitlement_mismatch",
    "listing_fee_mismatch",
    "reseller_margin_mismatch",
    "short_payment",
    "forgiven_charge",
    "disbursement_failure",
    "missing_invoice",
    "credit_misapplied",
    "refund_discrepancy",
    "tax_discrepancy",
    "fx_variance",
    "timing_difference",
    "channel_conflict",
]
#: Where the revenue flows through.
Channel = Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"]

CATEGORIES: tuple[str, ...] = get_args(Category)
CHANNELS: tuple[str, ...] = get_args(Channel)

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
#: Files in a SOP folder that are not SOPs (a folder's own README, drafts starting with "_").
_SKIPPED_NAMES = {"readme.md"}


class SOPError(ValueError):
    """A SOP file (or folder) that cannot be used; the message names it."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}")


class SOP(BaseModel):
    """One validated runbook: its front matter, its markdown body and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    version: str
    categories: tuple[Category, ...]
    channels: tuple[Channel, ...]
    owner: str
    updated: date
    body: str
    path: Path

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(
                f"id {value!r} must be lowercase letters, digits, '_', '-' or '.' (max 80)"
            )
        return value

    @field_validator("title", "owner")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # YAML reads `version: 3` as an int and `version: 1.2` as a float; both mean a label.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("categories", "channels", mode="before")
    @classmethod
    def _known_slugs(cls, value: Any, info: Any) -> Any:
        allowed = CATEGORIES if info.field_name == "categories" else CHANNELS
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"must be a non-empty list of: {', '.join(allowed)}")
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"unknown {unknown!r}; allowed: {', '.join(allowed)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a slug twice")
        return tuple(value)


_FRONT_MATTER_KEYS = ("id", "title", "version", "categories", "channels", "owner", "updated")


def parse_sop(text: str, path: Path) -> SOP:
    """Parse one SOP's text; ``path`` is only used in error messages and provenance."""
    if not text.strip():
        raise SOPError(path, "file is empty")
    match = _FRONT_MATTER_RE.match(text.lstrip("\ufeff"))
    if match is None:
        raise SOPError(path, "no front matter: the file must start with a '---' line, "
                             "the YAML keys, then a closing '---' line")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise SOPError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(front, dict):
        raise SOPError(path, f"front matter must be a mapping of {', '.join(_FRONT_MATTER_KEYS)}")
    body = text.lstrip("\ufeff")[match.end():].strip()
    if not body:
        raise SOPError(path, "has front matter but no body")
    if not re.search(r"^#{1,3} \S", body, re.MULTILINE):
        raise SOPError(path, "body has no markdown heading ('# ', '## ' or '### ')")
    unknown = sorted(set(front) - set(_FRONT_MATTER_KEYS))
    if unknown:
        raise SOPError(path, f"front matter has unknown keys {unknown}; "
                             f"allowed: {', '.join(_FRONT_MATTER_KEYS)}")
    try:
        return SOP(**front, body=body, path=path)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'front matter'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SOPError(path, f"front matter: {problems}") from None


def read_sop(path: Path) -> SOP:
    """Read and parse one SOP file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SOPError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SOPError(path, f"cannot be read: {exc.strerror}") from exc
    return parse_sop(text, path)


def sop_files(folder: Path) -> list[Path]:
    """The SOP files of a folder (recursively, sorted), skipping READMEs and ``_drafts``."""
    if not folder.is_dir():
        raise SOPError(folder, "SOP folder does not exist or is not a folder")
    return sorted(
        p for p in folder.rglob("*.md")
        if p.name.lower() not in _SKIPPED_NAMES
        and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )


class Corpus(BaseModel):
    """The SOPs loaded from one or more folders, and which ones a later folder replaced."""

    model_config = ConfigDict(frozen=True)

    sops: tuple[SOP, ...]
    #: ``(sop id, replaced file, replacing file)``: a later folder overrides an earlier one.
    overridden: tuple[tuple[str, Path, Path], ...] = ()


def load_corpus(folders: list[Path]) -> Corpus:
    """Load every SOP of ``folders``, in order.

    A SOP id found again in a *later* folder replaces the earlier one (that is how a company
    overrides one built-in runbook); the same id twice in *one* folder is an error. A folder
    with no SOP at all is an error too, because indexing it would delete the whole index.
    """
    if not folders:
        raise ValueError("no SOP folder given")
    by_id: dict[str, SOP] = {}
    overridden: list[tuple[str, Path, Path]] = []
    for folder in folders:
        files = sop_files(folder)
        if not files:
            raise SOPError(folder, "SOP folder holds no .md file")
        seen_here: dict[str, Path] = {}
        for path in files:
            sop = read_sop(path)
            if sop.id in seen_here:
                raise SOPError(path, f"duplicate SOP id {sop.id!r}, also in {seen_here[sop.id]}")
            seen_here[sop.id] = path
            if sop.id in by_id:
                overridden.append((sop.id, by_id[sop.id].path, path))
            by_id[sop.id] = sop
    return Corpus(sops=tuple(by_id.values()), overridden=tuple(overridden))
