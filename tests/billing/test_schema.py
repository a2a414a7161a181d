"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from billing.migrate import alembic_config, upgrade_engine
from billing.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def _indexes(engine: Engine, table: str) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes(table) if i["name"]}


def test_the_evidence_read_indexes_migrate_down_and_up(engine: Engine) -> None:
    """0003 can be taken back and applied again without losing the data around it."""
    added = {"billing_events": "ix_billing_events_buyer_invoice_id",
             "metering_results": "ix_metering_results_not_accepted"}
    cfg = alembic_config(str(engine.url))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        assert all(name not in _indexes(engine, table) for table, name in added.items())
    finally:
        upgrade_engine(engine)
    assert all(name in _indexes(engine, table) for table, name in added.items())
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
