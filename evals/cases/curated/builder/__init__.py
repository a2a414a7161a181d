"""Expands the hand-written case specs of `specs/*.yaml` into full case bundles.

Each spec states one case the way an analyst would tell it: the parties and terms, how usage
and money really flowed, the partner's or customer's messages, and the expected labels. The
builder turns that into records (hourly usage, metering answers, the partner's daily feed,
billing events linked by parent and payout ids, invoices, cash), loads them into a scratch
database, lets the real reconciliation rule raise the exception (or stores an exception
imported from another system as written), and exports the case with the real bundle exporter.
So every amount, date and id in a bundle is consistent with its records by construction.
"""

from evals.cases.curated.builder.assemble import build_all, build_case
from evals.cases.curated.builder.loading import load_specs
from evals.cases.curated.builder.spec import CaseSpec, SpecError

__all__ = ["CaseSpec", "SpecError", "build_all", "build_case", "load_specs"]
