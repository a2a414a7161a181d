"""Shared fixtures: the network blocked, and one index of the built-in SOPs per session.

Building the index embeds ~700 texts (a few seconds), so it is built once, in a temporary
folder, with every socket connection refused: the knowledge base must work offline.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import BUILTIN_SOP_DIR, KBConfig, KnowledgeBase, build_index


class NetworkBlocked(RuntimeError):
    """Raised by any attempt to open a network connection during a test."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkBlocked(f"network access attempted: {args!r}")


def block_network(mp: pytest.MonkeyPatch) -> None:
    """Refuse every outgoing connection and name lookup made through Python's socket module."""
    mp.setattr(socket.socket, "connect", _refuse)
    mp.setattr(socket.socket, "connect_ex", _refuse)
    mp.setattr(socket, "create_connection", _refuse)
    mp.setattr(socket, "getaddrinfo", _refuse)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)


@pytest.fixture(scope="session")
def kb_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KBConfig]:
    """A persistent index of the built-in SOPs, built once with the network blocked."""
    config = KBConfig(chroma_path=tmp_path_factory.mktemp("kb") / "chroma", collection="sops_test")
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        build_index([BUILTIN_SOP_DIR], config=config)
    yield config


@pytest.fixture(scope="session")
def kb(kb_config: KBConfig) -> KnowledgeBase:
    return KnowledgeBase(kb_config)


SOP_TEMPLATE = """---
id: {id}
title: {title}
version: "{version}"
categories: [{categories}]
channels: [aws_marketplace]
owner: test-owner
updated: 2025-01-01
---

# {title}

{body}
"""


def write_sop(
    folder: Path,
    sop_id: str,
    body: str,
    *,
    title: str = "Test runbook",
    version: str = "1.0",
    categories: str = "dropped_metering",
) -> Path:
    """Write a small valid SOP file and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sop_id}.md"
    path.write_text(
        SOP_TEMPLATE.format(
            id=sop_id, title=title, version=version, categories=categories, body=body
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def make_sop():  # type: ignore[no-untyped-def]
    """The :func:`write_sop` helper, as a fixture (test modules do not import conftest)."""
    return write_sop
