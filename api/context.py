"""What every command needs: the settings and a migrated database engine, built once."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from billing.migrate import create_engine_and_upgrade
from billing.settings import Settings, get_settings


def settings() -> Settings:
    """The process-wide settings."""
    return get_settings()


@lru_cache
def engine() -> Engine:
    """The configured database, migrated to the latest schema on first use."""
    return create_engine_and_upgrade(get_settings().database_url)
