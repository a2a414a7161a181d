"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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


def test_the_batch_claims_migrate_down_and_up_keeping_the_exceptions(engine: Engine) -> None:
    """0004 adds the claim columns to `exceptions`; taking it back keeps every exception."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO exceptions (natural_key, rule, kind, status, channel, period, record_refs, details, "
            "description, evidence_hash, first_seen_at, last_seen_at, updated_at, source) VALUES "
            "('k1', 'r', 'k', 'open', 'aws_marketplace', '2026-10', '{}', '{}', '', '', "
            "'2026-11-01 00:00:00', '2026-11-01 00:00:00', '2026-11-01 00:00:00', 'reconcile')"))
    cfg = alembic_config(str(engine.url))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        assert "claimed_by" not in {c["name"] for c in inspect(engine).get_columns("exceptions")}
    finally:
        upgrade_engine(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT natural_key, claimed_by FROM exceptions")).all() == [("k1", None)]
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
