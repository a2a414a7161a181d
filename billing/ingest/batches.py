"""`ingest_batches`: one row per loaded file (kind + SHA-256), so the same bytes load only once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, select, update

from billing.ingest.report import IngestReport
from billing.models import IngestBatch


def already_loaded(conn: Connection, kind: str, sha256: str, filename: str) -> IngestReport | None:
    """The report of an earlier load of the same bytes as the same kind, if there was one."""
    batch = conn.execute(
        select(IngestBatch).where(IngestBatch.kind == kind, IngestBatch.sha256 == sha256)
    ).first()
    if batch is None:
        return None
    return IngestReport(
        kind=kind,
        filename=filename,
        sha256=sha256,
        rows_read=batch.rows_read,
        rows_loaded=batch.rows_loaded,
        rows_rejected=batch.rows_rejected,
        already_loaded=True,
        batch_id=batch.id,
    )


def open_batch(conn: Connection, kind: str, path: Path, sha256: str) -> int:
    """Record the file in `ingest_batches` (inside the load's transaction) and return its id."""
    result = conn.execute(
        IngestBatch.__table__.insert().values(kind=kind, filename=str(path), sha256=sha256)
    )
    return int(result.inserted_primary_key[0])


def close_batch(conn: Connection, batch_id: int, report: IngestReport) -> None:
    """Store the final counts on the batch row."""
    conn.execute(
        update(IngestBatch.__table__)
        .where(IngestBatch.__table__.c.id == batch_id)
        .values(
            rows_read=report.rows_read,
            rows_loaded=report.rows_loaded,
            rows_rejected=report.rows_rejected,
        )
    )


def loaded_meanwhile(
    conn: Connection, kind: str, sha256: str, filename: str
) -> IngestReport | None:
    """After an IntegrityError (the load's transaction already rolled back): the report of the
    other process that loaded the same bytes meanwhile — `ingest_batches` holds kind + sha256
    once — or None if that was not the cause."""
    with conn.begin():
        return already_loaded(conn, kind, sha256, filename)
