"""Reconciliation benchmark: N hourly usage rows and the partner's matching daily rows, ~1 % faulty.

    .venv/bin/python bench/reconcile.py --rows 1000000

Writes a scenario folder (contracts.json, agreements.csv, usage.csv, partner-usage.csv,
billing-events.csv) with a dedicated streaming writer — one formatted line per row, no row
objects — ingests it file by file in `billing.ingest.ingest_folder`'s order into a fresh SQLite database (or
`--db-url`), reconciles every month with `billing.reconcile.run.reconcile`, and prints one
final JSON line:

    {"rows": N, "generate_s": …, "ingest_s": …, "reconcile_s": …, "total_s": …,
     "peak_rss_mb": …, "exceptions": …, "faults": …}

`total_s` = generate + ingest + reconcile; `peak_rss_mb` is this process's peak resident set.
Products and dimensions come from the scenario catalog; every account × dimension is a series
of consecutive hours from 2026-10-01 00:00 UTC (zeros at night included), so N rows is about
N / 744 series in one month (more months when `--months` says so).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from billing.db import make_engine, transaction
from billing.ingest import files_in, ingest_file
from billing.migrate import create_engine_and_upgrade, upgrade_engine
from billing.models import Discrepancy, ExceptionStatus
from billing.reconcile.registry import RULES
from billing.reconcile.rules import register_all
from billing.reconcile.run import reconcile
from billing.scenarios.catalog import PRODUCTS, ProductTemplate
from billing.scenarios.ids import IdMaker, sub_rng
from billing.scenarios.marketplace import BILLING_EVENT_COLUMNS
from billing.scenarios.usage import shape
from billing.scenarios.writers import AGREEMENT_COLUMNS, PARTNER_USAGE_COLUMNS, USAGE_COLUMNS

START = datetime(2026, 10, 1, tzinfo=UTC)
SELLER = "995667589487"
AWS = "123456789012"
FEE_RATE = Decimal("0.03")
CENT = Decimal("0.01")


@dataclass(slots=True)
class Series:
    """One account × product × dimension: its contract terms and how much it uses."""

    account: str
    aws_id: str
    code: str
    prod_id: str
    dim: str
    unit: str
    rate: Decimal
    scale: float
    table: list[list[float]]  # intensity by weekday × hour (the scenario generator's shapes)
    fault: str | None


Account = tuple[str, str, int]  # (account_key, aws_account_id, index into the products)
CatalogProduct = tuple[
    ProductTemplate, str, str
]  # (template, product code, marketplace product id)


def plan_series(
    rows: int, hours: int, fault_rate: float, rng: random.Random, ids: IdMaker
) -> tuple[list[Series], list[Account], list[CatalogProduct]]:
    """Accounts with one product each, in catalog order, until the series cover `rows` hours."""
    products = [(t, ids.product_code(), ids.marketplace_product_id()) for t in PRODUCTS]
    series: list[Series] = []
    accounts: list[Account] = []
    needed = -(-rows // hours)
    a = 0
    while len(series) < needed:
        p = a % len(products)
        template, code, prod_id = products[p]
        key, aws_id = f"BENCH-{a:06d}", f"{100000000000 + a}"
        accounts.append((key, aws_id, p))
        size = rng.choice((0.2, 0.5, 1.0, 2.0, 5.0))
        idle = rng.random() < 0.35
        for d in template.dimensions:
            table = [[shape(d.pattern, h, wd, idle) for h in range(24)] for wd in range(7)]
            fault = None
            if rng.random() < fault_rate:
                fault = rng.choice(("dropped", "duplicate", "rate", "timing"))
            series.append(
                Series(
                    account=key,
                    aws_id=aws_id,
                    code=code,
                    prod_id=prod_id,
                    dim=d.key,
                    unit=d.unit,
                    rate=d.list_price,
                    scale=d.hourly_scale * size,
                    table=table,
                    fault=fault,
                )
            )
            if len(series) == needed:
                break
        a += 1
    return series, accounts, products


def write_contracts(
    folder: Path, accounts: list[Account], products: list[CatalogProduct], ids: IdMaker
) -> dict[str, tuple[str, str]]:
    """contracts.json (accounts, catalog products, one public-offer contract per account) and
    agreements.csv; returns account_key → (agreement_id, offer_id)."""
    offers = {code: ids.offer_id() for _, code, _ in products}
    terms: dict[str, tuple[str, str]] = {}
    contracts = []
    for key, aws_id, p in accounts:
        template, code, _ = products[p]
        agreement = ids.agreement_id()
        terms[key] = (agreement, offers[code])
        contracts.append(
            {
                "contract_key": f"CT-{key}",
                "account_key": key,
                "product_code": code,
                "channel": "aws_marketplace",
                "offer_id": offers[code],
                "agreement_id": agreement,
                "currency": "USD",
                "start_date": "2026-01-01",
                "is_private_offer": False,
                "is_renewal": False,
                "listing_fee_rate": str(FEE_RATE),
                "tax_party": "none",
                "rates": [
                    {"dimension_key": d.key, "unit_price": str(d.list_price)}
                    for d in template.dimensions
                ],
            }
        )
    doc = {
        "accounts": [
            {"account_key": k, "name": f"Bench customer {k}", "aws_account_id": i}
            for k, i, _ in accounts
        ],
        "products": [
            {
                "product_code": code,
                "marketplace_product_id": pid,
                "title": t.title,
                "dimensions": [{"key": d.key, "unit": d.unit} for d in t.dimensions],
            }
            for t, code, pid in products
        ],
        "contracts": contracts,
    }
    (folder / "contracts.json").write_text(json.dumps(doc), encoding="utf-8")
    with (folder / "agreements.csv").open("w", encoding="utf-8") as fh:
        fh.write(",".join(AGREEMENT_COLUMNS) + "\n")
        for key, aws_id, _ in accounts:
            agreement, offer = terms[key]
            fh.write(
                f"{agreement},{offer},{SELLER},{aws_id},2026-01-01T00:00:00Z,,2025-12-30T10:00:00Z,NEW,,"
                f"ACTIVE,USD,\n"
            )
    return terms


def write_usage_and_feed(
    folder: Path,
    series: list[Series],
    rows: int,
    hours: int,
    rng: random.Random,
    terms: dict[str, tuple[str, str]],
    ids: IdMaker,
) -> tuple[int, dict[tuple[str, str], Decimal]]:
    """usage.csv (hourly, ours) and partner-usage.csv (daily, AWS's), streamed series by series.

    Faults change only the partner side: dropped hours, hours counted twice, a wrong billed rate,
    the month's last hours left for the next feed (timing). Returns the fault count and
    the billed amount per (account, month) for the billing events."""
    stamps = [(START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(hours)]
    factors = [
        ((START + timedelta(hours=h)).weekday(), (START + timedelta(hours=h)).hour)
        for h in range(hours)
    ]
    days = [(START + timedelta(hours=h)).date() for h in range(hours)]
    billed: dict[tuple[str, str], Decimal] = {}
    faults = 0
    written = 0
    rand = rng.random
    with (
        (folder / "usage.csv").open("w", encoding="utf-8") as usage,
        (folder / "partner-usage.csv").open("w", encoding="utf-8") as feed,
    ):
        usage.write(",".join(USAGE_COLUMNS) + "\n")
        feed.write(",".join(PARTNER_USAGE_COLUMNS) + "\n")
        for s in series:
            n = min(hours, rows - written)
            if n <= 0:
                break
            prefix = f"{s.account},{s.code},{s.dim},"
            daily: dict[date, int] = {}
            lines = []
            table, scale = s.table, s.scale
            for h in range(n):
                wd, hr = factors[h]
                f = table[wd][hr]
                q = int(scale * f * (0.75 + 0.5 * rand()) + 0.5) if f else 0
                lines.append(f"u{written + h:010d},{prefix}{stamps[h]},{q}\n")
                if q:
                    daily[days[h]] = daily.get(days[h], 0) + q
            usage.write("".join(lines))
            written += n
            rate = s.rate
            if s.fault and daily:
                faults += 1
                day = sorted(daily)[len(daily) // 2]
                if s.fault == "dropped":
                    daily[day] = daily[day] // 2
                elif s.fault == "duplicate":
                    daily[day] = daily[day] * 2
                elif s.fault == "rate":
                    rate = (rate * Decimal("1.10")).quantize(Decimal("0.000001"))
                else:  # timing: the last evening's hours land in the next feed (after this window)
                    last = max(daily)
                    daily[last] -= max(1, daily[last] // 8)
            agreement, offer = terms[s.account]
            for day, q in sorted(daily.items()):
                revenue = (rate * q).quantize(CENT, rounding=ROUND_HALF_UP)
                month = f"{day:%Y-%m}"
                billed[(s.account, month)] = billed.get((s.account, month), Decimal(0)) + revenue
                feed.write(
                    f"{ids.usage_feed_id()},{day.isoformat()},{s.prod_id},{agreement},{s.aws_id},{s.aws_id},"
                    f"us-east-1,{s.dim},{s.unit},{q},USD,{rate},{revenue},{offer},{SELLER},{s.dim},"
                    "AWSMarketplace\n"
                )
    return faults, billed


def write_billing_events(
    folder: Path,
    series: list[Series],
    billed: dict[tuple[str, str], Decimal],
    terms: dict[str, tuple[str, str]],
    ids: IdMaker,
) -> None:
    """One INVOICED SELLER_REV_SHARE and its listing-fee row per account and month (invoiced on the 1st)."""
    aws_ids = {s.account: (s.aws_id, s.prod_id) for s in series}
    with (folder / "billing-events.csv").open("w", encoding="utf-8") as fh:
        fh.write(",".join(BILLING_EVENT_COLUMNS) + "\n")
        for (account, month), gross in billed.items():
            if account not in aws_ids:
                continue
            aws_id, prod_id = aws_ids[account]
            agreement, offer = terms[account]
            first = date(int(month[:4]), int(month[5:]), 1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            last, due = nxt - timedelta(days=1), nxt + timedelta(days=30)
            invoice = ids.aws_invoice_id()
            fee = -(gross * FEE_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
            for ttype, amount, frm, to in (
                ("SELLER_REV_SHARE", gross, aws_id, SELLER),
                ("AWS_REV_SHARE", fee, SELLER, AWS),
            ):
                row = dict.fromkeys(BILLING_EVENT_COLUMNS, "")
                row.update(
                    billing_event_id=ids.billing_event_id(),
                    from_account_id=frm,
                    to_account_id=to,
                    end_user_account_id=aws_id,
                    product_id=prod_id,
                    action="INVOICED",
                    transaction_type=ttype,
                    amount=str(amount),
                    currency="USD",
                    balance_impacting="1",
                    invoice_date=nxt.isoformat(),
                    payment_due_date=due.isoformat(),
                    usage_period_start_date=first.isoformat(),
                    usage_period_end_date=last.isoformat(),
                    invoice_id=invoice,
                    agreement_id=agreement,
                    offer_id=offer,
                    catalog="AWSMarketplace",
                    action_date=nxt.isoformat(),
                    buyer_invoice_id=invoice,
                    invoice_variant="PURCHASE",
                    recipient_account_id=SELLER,
                    valid_from=f"{nxt}T00:00:00Z",
                    update_date=f"{nxt}T00:00:00Z",
                )
                fh.write(",".join(row[c] for c in BILLING_EVENT_COLUMNS) + "\n")


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="internal hourly usage rows")
    parser.add_argument(
        "--months", type=int, default=1, help="months the series span (hours per series)"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.01, help="share of series with a partner-side fault"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--db-url", default=None, help="database URL (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the files here and keep them"
    )
    parser.add_argument(
        "--per-rule", action="store_true", help="also time each rule alone (diagnosis)"
    )
    args = parser.parse_args()
    hours = (
        int(
            (
                datetime(2026 + (9 + args.months) // 12, (9 + args.months) % 12 + 1, 1, tzinfo=UTC)
                - START
            ).total_seconds()
        )
        // 3600
    )
    rng, ids = sub_rng(args.seed, "bench"), IdMaker(sub_rng(args.seed, "bench-ids"))
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        series, accounts, products = plan_series(args.rows, hours, args.fault_rate, rng, ids)
        terms = write_contracts(folder, accounts, products, ids)
        faults, billed = write_usage_and_feed(folder, series, args.rows, hours, rng, terms, ids)
        write_billing_events(folder, series, billed, terms, ids)
        t1 = time.perf_counter()
        if args.db_url:
            engine = make_engine(args.db_url)
            upgrade_engine(engine)
        else:
            engine = create_engine_and_upgrade(f"sqlite:///{Path(tmp) / 'bench.db'}")
        for kind, path in files_in(folder):  # what ingest_folder does, timed per file
            started = time.perf_counter()
            report = ingest_file(engine, kind, path)
            print(f"{report.summary()} in {time.perf_counter() - started:.2f} s", flush=True)
        t2 = time.perf_counter()
        # As of the 10th of the month after the last: invoices are out, nothing is due yet.
        as_of = (START + timedelta(hours=hours)).date() + timedelta(days=9)
        if args.per_rule:
            # Diagnosis: each rule alone, timed. The full run below then re-finds what these
            # opened, so its reconcile_s is an update run, not comparable with a normal one.
            register_all()
            for rule in sorted(RULES):
                started = time.perf_counter()
                reconcile(engine, rules=[rule], as_of=as_of)
                print(f"rule {rule}: {time.perf_counter() - started:.2f} s", flush=True)
        t_rec = time.perf_counter()
        reports = reconcile(engine, as_of=as_of)
        t3 = time.perf_counter()
        for rep in reports:
            opened = sum(s.opened for s in rep.per_rule.values())
            print(f"{rep.period}: {opened} exceptions opened", flush=True)
        with transaction(engine) as session:
            exceptions = session.scalar(
                select(func.count())
                .select_from(Discrepancy)
                .where(Discrepancy.status != ExceptionStatus.CLOSED)
            )
        engine.dispose()
    print(
        json.dumps(
            {
                "rows": args.rows,
                "generate_s": round(t1 - t0, 2),
                "ingest_s": round(t2 - t1, 2),
                "reconcile_s": round(t3 - t_rec, 2),
                "total_s": round((t2 - t0) + (t3 - t_rec), 2),
                "peak_rss_mb": peak_rss_mb(),
                "exceptions": exceptions,
                "faults": faults,
            }
        )
    )


if __name__ == "__main__":
    main()
