"""`OfflineBackend`: the default backend, deterministic and always available.

classify = the SOP decision steps over the evidence (`diagnosis`), blended with the votes of
the nearest labelled cases (`library`), mapped to a probability by a fitted `calibration`;
draft = `templates` filled only from evidence. No network, no key, same answer every time.

An exception whose rule we do not know (imported from another tool) is read by every runbook's
steps over its evidence (`inference`); the neighbours do not vote on it (their feature texts
are built on our rule names), and its own fitted map turns the score into a probability.
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from agent.llm.base import BackendResult, CaseInput, Usage
from agent.llm.offline.calibration import Calibrator
from agent.llm.offline.diagnosis import Hypothesis, diagnose, known_rule
from agent.llm.offline.inference import payer_identified
from agent.llm.offline.library import LIBRARY_DIR, CaseLibrary, LibraryCase, read_cases
from agent.llm.offline.signals import Facts
from agent.llm.offline.templates import render_draft
from agent.schemas import Category, Classification, Draft
from agent.taxonomy import resolution_for
from billing.settings import EmailSettings

RULES_WEIGHT = 0.8  # the SOP rules decide; neighbours move confidence and break near-ties
CALIBRATION_PATH = LIBRARY_DIR / "calibration.json"
#: The map for exceptions of rules we do not know, fitted apart (`build.fit_imported`).
IMPORTED_CALIBRATION_PATH = LIBRARY_DIR / "calibration_imported.json"


def feature_text(f: Facts) -> str:
    """The case reduced to the signals that separate look-alike causes, as words for the embedder."""
    parts = [f"rule {f.rule}", f"difference {f.kind}", f"channel {f.channel}", f"currency {f.currency}"]
    total = f.detail("account_product_total") or {}
    if "agrees" in total:
        parts.append("dimension totals agree" if total["agrees"] else "dimension totals differ")
    if f.dimension_mix_shift():  # a metering gap whose quantity turned up under another dimension
        parts.append("quantity moved between dimensions")
    for token in ("DuplicateRecord", "CustomerNotSubscribed", "DISBURSEMENT_FAILURE", "FORGIVEN", "SUPERSEDED", "ROLLED_BACK"):
        if f.evidence_mentions(token):
            parts.append(f"evidence shows {token}")
    if f.delta is not None:
        parts.append("partner shows less" if f.delta < 0 else "partner shows more")
    return "; ".join(parts)


class OfflineBackend:
    """Deterministic triage from evidence rules + nearest labelled cases + calibrated confidence."""

    name = "offline"
    prompt_version = "offline-rules-1"

    def __init__(
        self,
        *,
        contacts: EmailSettings | None = None,
        library_cases: list[LibraryCase] | None = None,
        calibrator: Calibrator | None = None,
        imported_calibrator: Calibrator | None = None,
        embed: object | None = None,
        library_path: Path | None = None,
        write_off_below_usd: Decimal = Decimal("250"),
        bank_fee_below_usd: Decimal = Decimal("50"),
    ) -> None:
        self.contacts = contacts or EmailSettings()
        self.write_off_below_usd = write_off_below_usd
        self.bank_fee_below_usd = bank_fee_below_usd
        cases = library_cases if library_cases is not None else read_cases(library_path or LIBRARY_DIR / "generated.jsonl")
        self.calibrator = calibrator if calibrator is not None else Calibrator.load(CALIBRATION_PATH)
        self.imported_calibrator = imported_calibrator if imported_calibrator is not None \
            else Calibrator.load(IMPORTED_CALIBRATION_PATH)
        self._library_cases = cases
        self._embed = embed
        self._library: CaseLibrary | None = None
        self.model = f"offline-rules+knn({len(cases)} cases, calibrated on {self.calibrator.fitted_on})"

    @property
    def library(self) -> CaseLibrary:
        if self._library is None:
            embed = self._embed
            if embed is None and self._library_cases:
                from knowledge.embedding import MiniLMEmbeddingFunction  # heavy: only when there are cases

                embed = MiniLMEmbeddingFunction()
            self._library = CaseLibrary(self._library_cases, embed)
        return self._library

    def score(self, case: CaseInput) -> tuple[list[Hypothesis], Counter[str], float]:
        """Ranked hypotheses, neighbour votes, and the raw (uncalibrated) score of the best one."""
        facts = Facts(case)
        hyps = diagnose(facts)
        votes: Counter[str] = Counter()
        if self._library_cases and known_rule(facts.rule):
            votes = CaseLibrary.vote(self.library.nearest(feature_text(facts)))
        blended: dict[Category, float] = {}
        for h in hyps:
            blended[h.category] = RULES_WEIGHT * h.score + (1 - RULES_WEIGHT) * votes.get(h.category.value, 0.0) \
                if votes else h.score
        ranked = sorted(hyps, key=lambda h: (-blended[h.category], h.category.value))
        top = blended[ranked[0].category]
        second = blended[ranked[1].category] if len(ranked) > 1 else 0.0
        # A close runner-up means the evidence does not separate the two causes: less sure.
        raw = max(0.0, min(1.0, top - 0.5 * max(0.0, second - (top - 0.3))))
        return ranked, votes, raw

    def classify(self, case: CaseInput) -> BackendResult[Classification]:
        start = time.perf_counter()
        facts = Facts(case)
        ranked, votes, raw = self.score(case)
        best = ranked[0]
        known = known_rule(facts.rule)
        # Only a receipt from a known customer gives someone outside to ask; any other case outside
        # the taxonomy (a marketplace row nobody explains) is investigated internally first.
        payer_known = facts.detail("account_identified") is True if known else payer_identified(facts) is True
        resolution = best.resolution or resolution_for(best.category, facts.channel, amount_usd=facts.amount_usd(),
                                                       write_off_below_usd=self.write_off_below_usd,
                                                       window_open=facts.metering_window_open(),
                                                       bank_fee_noted=facts.bank_charges_noted(),
                                                       bank_fee_below_usd=self.bank_fee_below_usd,
                                                       payer_known=payer_known,
                                                       refused_while_subscribed=bool(facts.refused_while_subscribed()))
        calibrator = self.calibrator if known else self.imported_calibrator
        passages = [p for p in case.sop_passages if best.category.value in p.categories] or case.sop_passages[:1]
        rationale = "; ".join(best.reasons) or f"the usual cause of a {facts.kind}"
        if len(ranked) > 1 and ranked[1].score >= 0.5:
            rationale += f". Also considered: {ranked[1].category.value.replace('_', ' ')}"
        if votes:
            agree = votes.get(best.category.value, 0.0)
            rationale += f". Similar past cases {'agree' if agree >= 0.5 else 'are mixed'}"
        decision = Classification(
            category=best.category,
            confidence=round(calibrator(raw), 4),
            rationale=rationale[0].upper() + rationale[1:] + ".",
            evidence_ids=facts.record_ids()[:8],
            sop_chunk_ids=[p.chunk_id for p in passages[:2]],
            action=resolution.action,
            escalate_to=resolution.escalate_to,
            owner=resolution.owner,
        )
        return BackendResult(decision, Usage(), (time.perf_counter() - start) * 1000, self.model)

    def draft(self, case: CaseInput, classification: Classification) -> BackendResult[Draft]:
        start = time.perf_counter()
        draft = render_draft(case, classification, self.contacts)
        return BackendResult(draft, Usage(), (time.perf_counter() - start) * 1000, self.model)

    def repair_draft(self, case: CaseInput, classification: Classification, draft: Draft,
                     problems: list[str]) -> BackendResult[Draft]:
        """Re-render without the free-text rationale: the template's facts all come from evidence."""
        start = time.perf_counter()
        plain = classification.model_copy(update={"rationale": "see the records listed"})
        return BackendResult(render_draft(case, plain, self.contacts), Usage(),
                             (time.perf_counter() - start) * 1000, self.model)
