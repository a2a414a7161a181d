"""Ingest throughput: N rows of internal usage and N rows of partner usage into SQLite.

    .venv/bin/python bench/ingest.py --rows 1000000

Writes a contracts document and the two CSV files into a temporary folder, ingests them with
`billing.ingest.ingest_file` into a fresh SQLite database (the embedded default), prints one
line per file and finally one JSON line:
{"rows": N, "rows_per_s": …, "rows_per_cpu_s": …, "usage_rows_per_s": …, "partner_usage_rows_per_s": …,
"peak_rss_mb": …} (`rows_per_s` is over both files together, wall clock; `rows_per_cpu_s` the same
over this process's CPU time; peak RSS is of this whole process).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.ingest import ingest_file
from billing.ingest.registry import columns_of
from billing.migrate import create_engine_and_upgrade

DIMENSIONS = ("api_calls", "storage_gb_hours", "compute_hours", "data_transfer_gb")
PRODUCT_CODE = "8k2m4n7p9q1r3s5t6v8w0x2yz"
MARKETPLACE_PRODUCT_ID = "prod-benchabc123xyz"


def write_contracts(path: Path, accounts: int) -> None:
    """Accounts, one product with four dimensions, one contract each (JSON is valid YAML input too)."""
    doc = {
        "accounts": [
            {
                "account_key": f"ACCT-{a:05d}",
                "name": f"Customer {a}",
                "aws_account_id": f"{400000000000 + a}",
            }
            for a in range(accounts)
        ],
        "products": [
            {
                "product_code": PRODUCT_CODE,
                "marketplace_product_id": MARKETPLACE_PRODUCT_ID,
                "title": "Bench product",
                "dimensions": [{"key": d, "unit": "units"} for d in DIMENSIONS],
            }
        ],
        "contracts": [],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


def write_usage(path: Path, rows: int, accounts: int) -> None:
    """Hourly rows: every account × dimension for consecutive hours, until `rows`."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(columns_of("usage"))
        n = 0
        hour = 0
        while n < rows:
            stamp = (start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for a in range(accounts):
                for d, dim in enumerate(DIMENSIONS):
                    if n == rows:
                        return
                    out.writerow(
                        [
                            f"u-{n:010d}",
                            f"ACCT-{a:05d}",
                            PRODUCT_CODE,
                            dim,
                            stamp,
                            f"{(n * 37 + d) % 500}.25",
                        ]
                    )
                    n += 1
            hour += 1


def write_partner_usage(path: Path, rows: int, accounts: int) -> None:
    """Daily dailyusagefeed_v1 rows: every account × dimension for consecutive days, until `rows`."""
    start = date(2026, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(columns_of("partner-usage"))
        n = 0
        day = 0
        while n < rows:
            usage_date = (start + timedelta(days=day)).isoformat()
            for a in range(accounts):
                account = f"{400000000000 + a}"
                for dim in DIMENSIONS:
                    if n == rows:
                        return
                    quantity = (n * 53) % 12000
                    out.writerow(
                        [
                            f"uf-{n:012d}",
                            usage_date,
                            MARKETPLACE_PRODUCT_ID,
                            f"agmt-{a:010d}",
                            account,
                            account,
                            "us-east-1",
                            dim,
                            "units",
                            f"{quantity}.50",
                            "USD",
                            "0.0125",
                            f"{quantity * 0.0125:.4f}",
                            f"offer-{a:08d}",
                            "999999999999",
                            f"{dim} usage",
                            "AWSMarketplace",
                        ]
                    )
                    n += 1
            day += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows per file (usage and partner usage)"
    )
    parser.add_argument("--accounts", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        write_contracts(folder / "contracts.json", args.accounts)
        write_usage(folder / "usage.csv", args.rows, args.accounts)
        write_partner_usage(folder / "partner-usage.csv", args.rows, args.accounts)
        engine = create_engine_and_upgrade(f"sqlite:///{folder / 'bench.db'}")
        ingest_file(engine, "contracts", folder / "contracts.json")
        rates: dict[str, float] = {}
        total = cpu_total = 0.0
        for kind in ("usage", "partner-usage"):
            started, cpu_started = time.perf_counter(), time.process_time()
            report = ingest_file(engine, kind, folder / f"{kind}.csv")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            total += elapsed
            cpu_total += cpu
            rates[kind] = report.rows_loaded / elapsed
            print(
                f"{report.summary()} in {elapsed:.2f} s (CPU {cpu:.2f} s) = {rates[kind]:,.0f} rows/s",
                flush=True,
            )
        engine.dispose()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(
        json.dumps(
            {
                "rows": args.rows,
                "rows_per_s": round(2 * args.rows / total),
                # Wall-clock figures suffer when other processes share the 2 cores; CPU time does not.
                "rows_per_cpu_s": round(2 * args.rows / cpu_total),
                "usage_rows_per_s": round(rates["usage"]),
                "partner_usage_rows_per_s": round(rates["partner-usage"]),
                "peak_rss_mb": round(peak_rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
