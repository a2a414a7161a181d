"""Real-looking, unique identifiers drawn from a seeded generator (never uuid4, never time)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_BASE62 = string.ascii_letters + string.digits


def sub_rng(seed: int, *names: object) -> random.Random:
    """An independent generator for one concern (`sub_rng(7, "usage", "ACME-0001")`).

    String seeds are hashed with SHA-512 by `random`, so the stream is the same on every run
    and every machine; separate streams keep the fault-free baseline identical whatever the
    fault rate is."""
    return random.Random(":".join([str(seed), *map(str, names)]))


class IdMaker:
    """Makes identifiers in the shapes partners use, never repeating one within a scenario."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError(
            "identifier space exhausted"
        )  # pragma: no cover - 1000 collisions in a row

    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self._rng.choices(alphabet, k=n))

    def _digits(self, n: int) -> str:
        return str(self._rng.randint(1, 9)) + "".join(self._rng.choices(string.digits, k=n - 1))

    def aws_account_id(self) -> str:
        """12 digits, e.g. `482913057761`."""
        return self._unique(lambda: self._digits(12))

    def customer_identifier(self) -> str:
        """A SaaS `CustomerIdentifier` as AWS Metering sends it (11 base-62 characters)."""
        return self._unique(lambda: self._chars(_BASE62, 11))

    def product_code(self) -> str:
        """A 25-character Marketplace product code."""
        return self._unique(lambda: self._chars(_LOWER_ALNUM, 25))

    def marketplace_product_id(self) -> str:
        """`prod-` and 13 characters, as the seller data feeds carry it."""
        return self._unique(lambda: "prod-" + self._chars(_LOWER_ALNUM, 13))

    def agreement_id(self) -> str:
        """`agmt-` and 25 characters."""
        return self._unique(lambda: "agmt-" + self._chars(_LOWER_ALNUM, 25))

    def offer_id(self) -> str:
        """`offer-` and 13 characters."""
        return self._unique(lambda: "offer-" + self._chars(_LOWER_ALNUM, 13))

    def billing_event_id(self) -> str:
        """40 hexadecimal characters (the feeds' ids are 40 characters long).

        160 random bits never collide in practice, so these (millions of them in big scenarios)
        skip the registry of used ids."""
        return f"{self._rng.getrandbits(160):040x}"

    def usage_feed_id(self) -> str:
        """40 hexadecimal characters."""
        return self.billing_event_id()

    def aws_invoice_id(self) -> str:
        """A 10-digit AWS invoice number."""
        return self._unique(lambda: self._digits(10))

    def line_item_id(self) -> str:
        """A line item id of an AWS invoice."""
        return self._unique(lambda: "li-" + self._chars(_LOWER_ALNUM, 20))

    def bank_trace_id(self) -> str:
        """The trace number the bank statement shows for a payout or a receipt."""
        return self._unique(lambda: "TRC" + self._chars(string.digits, 15))

    def reference(self, prefix: str, n: int = 12) -> str:
        """A generic upper-case reference such as a disbursement or transaction reference."""
        return self._unique(lambda: prefix + self._chars(_UPPER_ALNUM, n))

    def metering_record_id(self) -> str:
        """A `MeteringRecordId` (UUID-shaped, from the seeded stream; 128 random bits, no registry)."""
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def license_arn(self, seller_account: str) -> str:
        """A License Manager ARN for `CustomerAWSAccountId` metering."""
        return self._unique(
            lambda: (
                f"arn:aws:license-manager::{seller_account}:license:l-{self._rng.getrandbits(128):032x}"
            )
        )

    def message_id(self, domain: str) -> str:
        """An RFC 5322-style message id."""
        return self._unique(lambda: f"<{self._chars(_LOWER_ALNUM, 16)}@{domain}>")
