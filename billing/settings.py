"""The one settings object: environment variables prefixed ``TRIAGE_`` (nested with ``__``), `.env` allowed.

``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` are also read without the prefix, because every
OpenAI-compatible tool already exports them under those names.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing.reconcile.config import ReconcileSettings


class KnowledgeSettings(BaseModel):
    """Where the SOPs live and where their index is kept."""

    sop_dirs: list[Path] = Field(default_factory=lambda: [Path(__file__).resolve().parent.parent / "knowledge" / "sops"])
    chroma_path: Path = Path(".triage/chroma")
    # When set (e.g. ``http://chroma:8000``) the HTTP client to a Chroma server is used instead.
    chroma_url: str | None = None
    collection: str = "sops"


class LLMSettings(BaseModel):
    """Which backend triages, and how to reach an OpenAI-compatible server."""

    backend: Literal["auto", "offline", "openai"] = "auto"
    model: str = "gpt-4o-mini"
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    # OpenAI's own API speaks both; most compatible servers only Chat Completions.
    api: Literal["chat", "responses"] = "chat"
    # How the server accepts structured output: OpenAI/vLLM `json_schema`; llama.cpp `json_object`
    # with a `schema` key; `none` = instructions only, the reply still validated by pydantic.
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    timeout_s: float = 60.0
    max_retries: int = 4
    temperature: float = 0.0
    # USD per million tokens, (input, output); used by evals to cost a run.
    prices_per_mtok: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
            "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
            "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
        }
    )


class RoutingSettings(BaseModel):
    """When a case must go to a person rather than be proposed automatically."""

    confidence_threshold: float = 0.80
    # Amount at stake (absolute delta, in USD-equivalent) at or above which a person approves.
    materiality_usd: Decimal = Decimal("10000")
    always_review_categories: list[str] = Field(
        default_factory=lambda: ["refund_discrepancy", "tax_discrepancy", "channel_conflict", "other"]
    )
    # Usage lost past the metering window is booked as lost revenue below this (USD-equivalent)
    # and billed under the contract at or above it (dropped metering runbook, decision step 3).
    write_off_below_usd: Decimal = Decimal("250")
    # A direct customer's shortfall its remittance says bank charges took is written off below
    # this (USD-equivalent), and chased at or above it (short payment runbook, decision step 3).
    bank_fee_write_off_below_usd: Decimal = Decimal("50")
    # An account and period whose open exceptions point to causes of different families go to a person.
    review_compound_cases: bool = True
    # Categories whose partner emails may be sent without approval below `auto_send_below_usd`.
    auto_send_categories: list[str] = Field(default_factory=list)
    auto_send_below_usd: Decimal = Decimal("0")


class NotificationSettings(BaseModel):
    """Slack-style webhooks: where notifications go and how callbacks are verified."""

    # Incoming webhooks (Slack's, or anything taking a JSON {"text": ...} POST). None: no
    # notification is written at all.
    webhook_urls: list[str] = Field(default_factory=list)
    # For the service's interactive callbacks (not built yet): nothing reads it today.
    slack_signing_secret: str | None = Field(default=None, repr=False)
    # Attempts per message before it is marked failed; the first retry waits `retry_after_s`,
    # each next one twice as long (at most an hour), or what a 429's Retry-After asks.
    max_attempts: int = Field(default=5, ge=1)
    retry_after_s: int = Field(default=30, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)


class EmailSettings(BaseModel):
    """Addresses (roles or aliases) that drafts are written to."""

    partner_contacts: dict[str, str] = Field(
        default_factory=lambda: {
            "aws_marketplace": "aws-marketplace-seller-ops@partners.example",
            "azure_marketplace": "azure-partner-center-support@partners.example",
            "gcp_marketplace": "gcp-marketplace-partner-ops@partners.example",
            "reseller": "reseller-channel-manager@partners.example",
            "direct": "billing-ops@example.com",
        }
    )
    customer_contact_role: str = "customer billing contact (from CRM)"
    internal_owner: str = "billing-ops@example.com"
    sender: str = "Billing Operations <billing-ops@example.com>"


class ClaimSettings(BaseModel):
    """How batch workers share the open exceptions (`agent.claims`)."""

    # A worker renews its claims every third of this while it works on them; the claims of a
    # worker that died go back to the others once it has passed.
    lease_s: int = Field(default=600, ge=10)
    # Exceptions claimed at a time: the batch's read-ahead chunk.
    size: int = Field(default=500, ge=1)


class Settings(BaseSettings):
    """All configuration of the product, from the environment (prefix ``TRIAGE_``) or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="TRIAGE_",
        env_nested_delimiter="__",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Path(".triage")
    database_url: str = Field(
        default="sqlite:///.triage/triage.db",
        validation_alias=AliasChoices("TRIAGE_DATABASE_URL", "DATABASE_URL"),
    )
    # LangGraph checkpoints: a SQLite file by default; a postgresql:// URL in production.
    checkpoint_url: str = "sqlite:///.triage/checkpoints.db"
    batch_size: int = 5000
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    claims: ClaimSettings = Field(default_factory=ClaimSettings)
    # The names every OpenAI-compatible tool exports. A nested model cannot alias a top-level
    # variable, so they are read here and fill `llm` where ``TRIAGE_LLM__…`` left it unset.
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY", exclude=True, repr=False)
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL", exclude=True)

    @model_validator(mode="after")
    def _fill_llm_from_openai_names(self) -> Settings:
        fill = {k: v for k, v in {"api_key": self.openai_api_key, "base_url": self.openai_base_url}.items()
                if v and getattr(self.llm, k) is None}
        if fill:
            self.llm = self.llm.model_copy(update=fill)
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
