"""The report of a run: Markdown (report.md) and the same rendered as HTML (report.html), with plots.

The Markdown is the one source; the HTML is rendered from it with markdown-it (already
installed with rich), so the two never disagree. The worst cases are listed with the evidence
they were decided on, the worst first: a must-see case that did not reach a person, then a
draft with an invented number, then a wrong category proposed automatically, then any other
wrong category — the more confident, the worse.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from evals.compare import Comparison
from evals.plots import CONFUSION_PNG, COVERAGE_PNG, RELIABILITY_PNG, write_plots
from evals.results import CaseResult
from evals.store import EvalRun

WORST_CASES = 10
MD_FILE = "report.md"
HTML_FILE = "report.html"


def _cell(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def severity(result: CaseResult) -> tuple[int, float]:
    """Sort key, worst first: (rank of the error, confidence)."""
    confidence = result.predicted.confidence or 0.0
    if result.missed_must_see:
        return (0, -confidence)
    if result.draft is not None and result.draft.invented_number:
        return (1, -confidence)
    if not result.category_correct and result.predicted.route == "auto":
        return (2, -confidence)
    if not result.category_correct:
        return (3, -confidence)
    return (4, -confidence)


def worst_cases(results: Sequence[CaseResult], n: int = WORST_CASES) -> list[CaseResult]:
    """The `n` worst cases that went wrong in some way (fewer if fewer did)."""
    bad = [r for r in results if severity(r)[0] < 4]
    return sorted(bad, key=lambda r: (*severity(r), r.case_id))[:n]


def _what_went_wrong(result: CaseResult) -> str:
    problems = []
    if result.missed_must_see:
        problems.append(f"must reach a person but was routed {result.predicted.route or 'nowhere (failed)'}")
    if not result.category_correct:
        problems.append(f"category {result.predicted.category or '(none)'} instead of {result.expected.category}")
    if result.draft is not None and result.draft.invented_number:
        invented = result.draft.invented_amounts + result.draft.invented_ids
        problems.append("draft states what the evidence does not hold: " + ", ".join(invented))
    if result.predicted.error:
        problems.append(f"failed: {result.predicted.error}")
    return "; ".join(problems)


def _case_section(i: int, r: CaseResult) -> str:
    e, p, ev = r.expected, r.predicted, r.evidence
    lines = [
        f"### {i}. `{r.case_id}`",
        "",
        f"**What went wrong:** {_what_went_wrong(r)}  ",
        f"**Source:** `{r.source}`",
        "",
        _table(["", "category", "route", "action", "escalate to", "confidence"], [
            ["expected", e.category, e.route, e.action, e.escalate_to, None],
            ["agent", p.category, p.route, p.action, p.escalate_to, _num(p.confidence, 2)],
        ]),
        "",
    ]
    if e.why:
        lines += [f"**Why (label):** {e.why}", ""]
    if p.rationale:
        lines += [f"**Agent's rationale:** {p.rationale}", ""]
    if p.route_reasons:
        lines += ["**Route reasons:** " + "; ".join(p.route_reasons), ""]
    fields = [(k, v) for k, v in ev.items() if k not in ("details", "stake", "tools", "outside_text", "sop_passages")
              and v not in (None, "")]
    if fields:
        lines += ["**Evidence — the exception:**", "", _table(["field", "value"], fields), ""]
    if ev.get("details") not in (None, "{}"):
        lines += [f"**Details:** `{ev['details']}`", ""]
    stake = ev.get("stake") or {}
    if stake:
        lines += [f"**At stake:** {stake.get('amount')} {stake.get('currency')} (USD {stake.get('usd')})", ""]
    if ev.get("tools"):
        lines += ["**Tools that answered:** " + ", ".join(ev["tools"]), ""]
    for text in ev.get("outside_text") or []:
        flag = " — flagged as suspicious" if text.get("suspicious") else ""
        lines += [f"**Outside text** from {text.get('sender_role')}: “{text.get('subject')}”{flag}", ""]
    if r.draft is not None:
        d = r.draft
        lines += [f"**Draft** ({d.kind} to {d.to}): *{d.subject}*", "", "```text", d.body.strip(), "```", ""]
        unsupported = d.invented_amounts + d.invented_ids + d.other_unsupported
        if unsupported:
            lines += ["**Not found in the evidence:** " + ", ".join(f"`{u}`" for u in unsupported), ""]
    return "\n".join(lines)


def _identity_section(run: EvalRun) -> str:
    i = run.identity
    seeds = "" if not i.case_set_seeds else f" (seeds {', '.join(str(s) for s in i.case_set_seeds)})"
    return _table(["", ""], [
        ["date (UTC)", f"{i.created_at:%Y-%m-%d %H:%M:%S}"], ["backend", i.backend], ["model", i.model],
        ["prompt version", i.prompt_version], ["SOP index version", f"`{i.sop_index_version[:16]}`"],
        ["code version", str(i.code_version)], ["case set", f"`{i.case_set_path}`{seeds}"],
        ["case-set hash", f"`{i.case_set_hash[:16]}`"],
        ["routing policy", f"confidence ≥ {i.confidence_threshold:.2f}, materiality USD {i.materiality_usd}"],
        ["elapsed", f"{i.elapsed_s:.1f} s, concurrency {i.concurrency}"],
    ])


def _comparison_section(c: Comparison) -> str:
    lines = [f"## Compared with `{c.baseline_run_id}`", ""]
    if not c.same_case_set:
        note = (f"*Different case sets:* {c.shared_cases} shared case(s), {c.only_in_baseline} only in the "
                f"baseline, {c.only_in_current} only in this run; flips are over the shared ones.")
        lines += [note, ""]
    lines += [_table(["metric", "baseline", "this run", "delta", ""],
                     [[d.name, d.baseline, d.current, None if d.delta is None else f"{d.delta:+.4g}", d.verdict]
                      for d in c.deltas]), ""]
    for title, flips in (("Now right (were wrong)", c.fixed), ("Now wrong (were right)", c.broken)):
        lines += [f"### {title}: {len(flips)}", ""]
        if flips:
            lines += [_table(["case", "what", "expected", "baseline", "this run"],
                             [[f"`{f.case_id}`", f.what, f.expected, f.baseline, f.current] for f in flips]), ""]
    return "\n".join(lines)


def _headline_sections(run: EvalRun) -> list[str]:
    m = run.metrics
    t = m.threshold
    per_category = [[c, s["support"], s["predicted"], _num(float(s["precision"])), _num(float(s["recall"])),
                     _num(float(s["f1"]))] for c, s in m.per_category.items()]
    classification = (f"Category accuracy **{_pct(m.accuracy)}** (counting a case's second cause as right too: "
                      f"{_pct(m.accuracy_any_cause)}), macro-F1 **{_num(m.macro_f1)}**, {m.failed} case(s) failed.")
    routing = (f"Must-see cases reaching a person: **{_pct(m.must_see_recall)}** "
               f"({m.must_see_cases - m.must_see_missed} of {m.must_see_cases}; target 100%). "
               f"Precision of routing to a person: {_pct(m.human_precision)}. Touchless (auto) rate: "
               f"{_pct(m.auto_rate)}. Route accuracy: {_pct(m.route_accuracy)}. Action accuracy: "
               f"{_pct(m.action_accuracy)}; escalation-target accuracy: {_pct(m.escalation_accuracy)}.")
    threshold = (f"**Threshold recommendation** (target precision {t.target_precision:.0%} on auto-routed "
                 f"proposals, {t.candidates} candidate cases): {t.note}.")
    drafts = (f"{m.drafts} draft(s); **{m.invented_numbers}** with an amount or id not found in the evidence; "
              f"{_pct(m.drafts_faithful)} with nothing unsupported (amounts, ids, dates, addresses); "
              f"{_pct(m.sop_cited)} cite SOP steps that were retrieved.")
    dollars = (f"USD {m.dollars}" if m.dollars is not None
               else f"cost unknown (no price for {', '.join(m.unpriced_models)})")
    cost = (f"{m.llm_calls} LLM call(s) ({_num(m.llm_calls_per_case, 2)} per case), {m.input_tokens} input and "
            f"{m.output_tokens} output tokens, {dollars}. Latency per case (the graph): p50 "
            f"{_num(m.latency_p50_ms, 1)} ms, p95 {_num(m.latency_p95_ms, 1)} ms (loading the bundle, not "
            f"counted: p50 {_num(m.load_p50_ms, 1)} ms).")
    return [
        f"# Eval run `{run.identity.run_id}`", "", _identity_section(run), "",
        "## Headline", "", _table(["metric", "value"], [[k, v] for k, v in m.headline().items()]), "",
        "## Classification", "", classification, "",
        _table(["category", "cases", "predicted", "precision", "recall", "F1"], per_category), "",
        f"![confusion matrix]({CONFUSION_PNG})", "",
        "## Routing and resolution", "", routing, "",
        "## Calibration", "", f"ECE (10 bins) **{_num(m.ece)}**, Brier {_num(m.brier)}.", "",
        f"![reliability diagram]({RELIABILITY_PNG}) ![coverage vs accuracy]({COVERAGE_PNG})", "", threshold, "",
        "## Drafts", "", drafts, "",
        "## Cost and latency", "", cost, "",
    ]


def markdown_report(run: EvalRun, comparison: Comparison | None = None) -> str:
    """The whole report as Markdown (plots referenced by file name, beside it)."""
    parts = _headline_sections(run)
    if comparison is not None:
        parts += [_comparison_section(comparison), ""]
    worst = worst_cases(run.results)
    parts += [f"## Worst cases ({len(worst)})", ""]
    parts += [_case_section(i, r) for i, r in enumerate(worst, start=1)] or ["Nothing went wrong.", ""]
    return "\n".join(parts).rstrip() + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;font-size:.9rem}
th{background:#f3f3f3}img{max-width:48%;vertical-align:top}pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap}
code{font-size:.85rem}"""


def html_report(markdown: str, title: str) -> str:
    """The Markdown report rendered as a standalone HTML page (raw HTML in the text is escaped)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head>\n<body>\n{body}</body></html>\n")


def write_reports(run: EvalRun, folder: Path, comparison: Comparison | None = None) -> list[Path]:
    """report.md, report.html and the PNG plots into `folder`."""
    plots = write_plots(run.metrics, folder)
    markdown = markdown_report(run, comparison)
    md_path, html_path = folder / MD_FILE, folder / HTML_FILE
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(html_report(markdown, f"Eval run {run.identity.run_id}"), encoding="utf-8")
    return [md_path, html_path, *plots]
