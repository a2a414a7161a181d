"""`triage generate`: write a realistic scenario folder with its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from billing.scenarios import DEFAULT_FAULT_RATE, generate_scenario


def generate_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the scenario into (created if missing).")
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="Same seed, same parameters: byte-identical files.")
    ] = 7,
    accounts: Annotated[
        int, typer.Option("--accounts", min=1, max=5000, help="Customer accounts.")
    ] = 40,
    months: Annotated[
        int, typer.Option("--months", min=1, max=36, help="Calendar months of usage.")
    ] = 1,
    start: Annotated[
        str, typer.Option("--start", help="First month, YYYY-MM (months cut at 00:00 UTC).")
    ] = "2026-10",
    fault_rate: Annotated[
        float,
        typer.Option(
            "--fault-rate",
            min=0.0,
            max=1.0,
            help="Faults per contract-month (every scheme is placed once before any repeats).",
        ),
    ] = DEFAULT_FAULT_RATE,
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
    faults = Table(
        "category", "faults", title=f"{summary.faults} faults in {', '.join(summary.periods)}"
    )
    for category, count in summary.faults_by_category.items():
        faults.add_row(category, str(count))
    console.print(faults)
    console.print(
        f"benign {summary.benign} · look-alikes {summary.look_alikes} · two causes {summary.two_causes} · "
        f"messages {summary.messages} ({summary.suspicious_messages} suspicious) · "
        f"reconcile as of {summary.as_of}"
    )
    if summary.skipped:
        console.print(f"not placed (no eligible contract): {', '.join(summary.skipped)}")


def register(app: typer.Typer) -> None:
    """Add `generate` to the `triage` app."""
    app.command("generate")(generate_cmd)
