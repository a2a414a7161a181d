"""`triage reconcile`: run the reconciliation rules and show what they found."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from api import context
from billing.db import transaction
from billing.money import fmt
from billing.reconcile.periods import PeriodError, parse_period
from billing.reconcile.run import reconcile
from billing.reconcile.summary import open_exceptions, totals_per_rule


def reconcile_cmd(
    period: list[str] | None = typer.Option(
        None, "--period", "-p", metavar="YYYY-MM", help="Month to reconcile (repeatable); default: every month with data."),
    rule: list[str] | None = typer.Option(None, "--rule", "-r", help="Only this rule (repeatable); default: all."),
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="Run as if on this date (grace periods); default: today."),
) -> None:
    """Compare our records with the partners' and raise, update or close exceptions."""
    try:
        periods = [parse_period(p) for p in period] if period else None
    except PeriodError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from exc
    engine = context.engine()
    try:
        reports = reconcile(engine, periods=periods, rules=rule or None, as_of=as_of.date() if as_of else None)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--rule") from exc
    console = Console()
    months = ", ".join(r.period for r in reports) or "none (no data)"
    runs = Table(title=f"Reconciliation of {months}")
    for column in ("rule", "opened", "updated", "unchanged", "closed", "reopened"):
        runs.add_column(column, justify="left" if column == "rule" else "right")
    for name, stats in totals_per_rule(reports).items():
        runs.add_row(name, str(stats.opened), str(stats.updated), str(stats.unchanged), str(stats.closed),
                     str(stats.reopened))
    console.print(runs)
    with transaction(engine) as session:
        summary = open_exceptions(session, [r.period for r in reports] if periods else None)
    open_table = Table(title="Open exceptions by kind and channel")
    for column in ("kind", "channel", "count", "amount at stake"):
        open_table.add_column(column, justify="right" if column in ("count", "amount at stake") else "left")
    for row in summary:
        at_stake = fmt(row.amount_at_stake, row.currency) if row.currency else "—"
        open_table.add_row(row.kind, row.channel, str(row.count), at_stake)
    console.print(open_table)
    console.print(f"{sum(r.count for r in summary)} open exception(s).")


def register(app: typer.Typer) -> None:
    """Add `triage reconcile` to the CLI."""
    app.command("reconcile")(reconcile_cmd)
