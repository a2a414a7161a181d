"""Every input kind, and `ingest_file`: the one entry point that loads a file of a given kind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from billing.ingest.adapter import RowAdapter
from billing.ingest.adapters import contracts
from billing.ingest.adapters.agreements import AgreementsAdapter
from billing.ingest.adapters.billing_events import BillingEventsAdapter
from billing.ingest.adapters.credit_notes import CreditNotesAdapter
from billing.ingest.adapters.fx_rates import FxRatesAdapter
from billing.ingest.adapters.invoices import InvoicesAdapter
from billing.ingest.adapters.messages import MessagesAdapter
from billing.ingest.adapters.metering import MeteringAdapter
from billing.ingest.adapters.partner_usage import PartnerUsageAdapter
from billing.ingest.adapters.payments import PaymentsAdapter
from billing.ingest.adapters.refunds import RefundsAdapter
from billing.ingest.adapters.usage import UsageAdapter
from billing.ingest.errors import IngestError, RowError
from billing.ingest.pipeline import RowPipeline
from billing.ingest.report import IngestReport
from billing.settings import get_settings

# In dependency order: what a kind refers to (accounts, products, invoices) is loaded before it.
ROW_ADAPTERS: dict[str, type[RowAdapter]] = {
    a.kind: a
    for a in (
        AgreementsAdapter,
        FxRatesAdapter,
        UsageAdapter,
        MeteringAdapter,
        PartnerUsageAdapter,
        BillingEventsAdapter,
        InvoicesAdapter,
        CreditNotesAdapter,
        RefundsAdapter,
        PaymentsAdapter,
        MessagesAdapter,
    )
}

KINDS: tuple[str, ...] = (contracts.KIND, *ROW_ADAPTERS)


def suffixes_of(kind: str) -> tuple[str, ...]:
    """The file name endings a kind accepts (e.g. `.csv`, `.jsonl`)."""
    return contracts.SUFFIXES if kind == contracts.KIND else ROW_ADAPTERS[kind].suffixes


def columns_of(kind: str) -> tuple[str, ...]:
    """The columns a file of row `kind` must carry, in the order our own writers put them
    (the scenario generator, the benchmarks): one definition of each format's header."""
    return ROW_ADAPTERS[kind].columns


def ingest_file(
    engine: Engine,
    kind: str,
    path: Path | str,
    *,
    skip_bad_rows: bool = False,
    rejects_path: Path | str | None = None,
    batch_size: int | None = None,
) -> IngestReport:
    """Validate and load one file of `kind`.

    Raises `IngestError` (every bad row, with line, field and reason; nothing stored) unless
    `skip_bad_rows`, in which case the good rows load and the bad ones go to `rejects_path`
    (default: `<name>.rejects.csv` beside the file). Loading the same bytes again is a no-op."""
    path = Path(path)
    rejects = Path(rejects_path) if rejects_path else None
    if kind not in KINDS:
        raise IngestError(
            path.name,
            kind,
            [RowError(0, "(kind)", f"unknown kind {kind!r}; known: {', '.join(KINDS)}")],
        )
    if not path.is_file():
        raise IngestError(path.name, kind, [RowError(0, "(file)", f"no such file: {path}")])
    suffixes = suffixes_of(kind)
    if path.suffix.lower() not in suffixes:
        raise IngestError(
            path.name,
            kind,
            [
                RowError(
                    0,
                    "(file)",
                    f"a {kind} file must end in {' or '.join(suffixes)}, not {path.suffix or 'nothing'}",
                )
            ],
        )
    if kind == contracts.KIND:
        return contracts.ingest_contracts(
            engine, path, skip_bad_rows=skip_bad_rows, rejects_path=rejects
        )
    pipeline = RowPipeline(
        ROW_ADAPTERS[kind], path, batch_size=batch_size or get_settings().batch_size
    )
    return pipeline.run(engine, skip_bad_rows=skip_bad_rows, rejects_path=rejects)
