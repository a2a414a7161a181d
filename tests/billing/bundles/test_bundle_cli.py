"""`triage export-cases` / `triage import-cases`, through a Typer app the commands register into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from api.commands import cases
from billing.db import transaction
from billing.models import Discrepancy
from tests.tools.case_world import World, wipe

PRODUCT = "7x1k2m9q4w8e3r6t5y0u1i2o3"


@pytest.fixture
def app(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(cases.context, "engine", lambda: engine)
    application = typer.Typer()
    cases.register(application)
    return application


def _truth(path: Path) -> Path:
    entry = {"fault_id": "F-0001", "category": "dropped_metering", "action": "resend_metering",
             "escalate_to": "internal", "route": "auto", "account_key": "ACME-0001", "channel": "aws_marketplace",
             "period": "2026-10", "product_code": PRODUCT, "dimension_key": "api_calls",
             "expected_rules": ["usage_vs_partner_usage"], "expected_kinds": ["usage_shortfall"],
             "amount_at_stake": "0.13", "currency": "USD", "benign": False, "note": "two hours never processed"}
    path.write_text(json.dumps(entry) + "\n")
    return path


def test_export_then_import_through_the_cli(app: typer.Typer, engine: Engine, world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cases"
    result = runner.invoke(app, ["export-cases", "--out", str(out), "--period", "2026-10",
                                 "--truth", str(_truth(tmp_path / "truth.jsonl"))])
    assert result.exit_code == 0, result.output
    assert "wrote 3 case bundle(s)" in result.output and "1 with expected labels" in result.output
    labelled = [json.loads(p.read_text()) for p in out.glob("*.json")]
    (expected,) = [d["expected"] for d in labelled if d["expected"]]
    assert expected == {"category": "dropped_metering", "route": "auto", "action": "resend_metering",
                             "escalate_to": "internal", "why": "two hours never processed",
                             "second_category": None, "fault_id": "F-0001"}
    wipe(engine)
    result = runner.invoke(app, ["import-cases", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 3 case(s)" in result.output
    with transaction(engine) as session:
        sources = session.scalars(select(Discrepancy.source).where(Discrepancy.period == "2026-10")).all()
    assert sorted(sources) == ["import"] * 3


def test_import_reports_every_problem_and_loads_nothing(app: typer.Typer, engine: Engine, world: World,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "cases"
    assert CliRunner().invoke(app, ["export-cases", "--out", str(out)]).exit_code == 0
    wipe(engine)
    first = min(out.glob("*.json"))
    document = json.loads(first.read_text())
    document["schema_version"] = "2.0"
    first.write_text(json.dumps(document))
    result = CliRunner().invoke(app, ["import-cases", str(out)])
    assert result.exit_code == 1
    assert f"{first}: $.schema_version: schema_version '2.0' has major version 2" in result.output
    assert "nothing imported" in result.output
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Discrepancy)) == 0
