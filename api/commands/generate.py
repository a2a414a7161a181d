"""`triage generate`: write a realistic scenario folder with its ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from billing.scenarios import DEFAULT_FAULT_RATE, generate_scenario


def generate_cmd(
    out: Path = typer.Option(..., "--out", help="Folder to write the scenario into (created if missing)."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same parameters: byte-identical files."),
    accounts: int = typer.Option(40, "--accounts", min=1, max=5000, help="How many customer accounts."),
    months: int = typer.Option(1, "--months", min=1, max=36, help="How many calendar months of usage."),
    start: str = typer.Option("2026-10", "--start", help="First month, YYYY-MM (months cut at 00:00 UTC)."),
    fault_rate: float = typer.Option(DEFAULT_FAULT_RATE, "--fault-rate", min=0.0, max=1.0,
                                     help="Faults per contract-month (every category appears once before any repeats)."),
) -> None:
    """Generate contracts, usage, metering, partner feeds, invoices, payments and messages with
    injected faults; `truth.jsonl` beside them says what each fault is and how to resolve it."""
    try:
        summary = generate_scenario(seed, accounts, months, start, out, fault_rate=fault_rate)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(reasons) from exc
    console = Console()
    files = Table("file", "rows", title=f"Scenario seed {seed} in {summary.out}")
    for name, count in summary.rows.items():
        files.add_row(name, f"{count:,}")
    console.print(files)
    faults = Table("category", "faults", title=f"{summary.faults} faults in {', '.join(summary.periods)}")
    for category, count in summary.faults_by_category.items():
        faults.add_row(category, str(count))
    console.print(faults)
    console.print(f"benign {summary.benign} · look-alikes {summary.look_alikes} · two causes {summary.two_causes} · "
                  f"messages {summary.messages} ({summary.suspicious_messages} suspicious) · "
                  f"reconcile as of {summary.as_of}")
    if summary.skipped:
        console.print(f"not placed (no eligible contract): {', '.join(summary.skipped)}")


def register(app: typer.Typer) -> None:
    """Add `generate` to the `triage` app."""
    app.command("generate")(generate_cmd)
