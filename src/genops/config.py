"""The `genops.yaml` schema (top-level key `genops:`).

Every setting is declared once here. Loading, `${ENV}` interpolation, precedence and error
messages live in `config_loader.py`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .alerts.config import AlertsConfig
from .policy.periods import check_timezone
from .policy.schema import AnyPolicy

# Integrations that can be configured under `providers:` (a misspelled name is a config error).
ProviderName = Literal[
    "openai", "anthropic", "cohere", "litellm", "langchain", "llamaindex", "pinecone", "weaviate", "chroma"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExporterConfig(_Strict):
    type: Literal["otlp", "console", "none", "prometheus"]
    endpoint: str | None = None
    protocol: Literal["grpc", "http"] | None = None  # default: from the endpoint's port (4318 -> http)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = 10.0
    port: int | None = None  # prometheus scrape endpoint


class ProviderConfig(_Strict):
    api_key: str | None = Field(default=None, repr=False)  # handed to the SDK via its env var; never logged
    base_url: str | None = None  # likewise (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, CO_API_URL)
    track_embeddings: bool = True
    auto_instrument: bool = True


class AttributionConfig(_Strict):
    team: str | None = None
    project: str | None = None
    customer_id: str | None = None
    customer_field: str | None = None  # request header carrying the customer id
    user_field: str | None = None
    defaults: dict[str, str] = Field(default_factory=dict)  # extra custom attributes


class StorageConfig(_Strict):
    url: str | None = None  # default: sqlite:///<GENOPS_HOME or ~/.genops>/ledger.db
    counters_url: str | None = None  # redis://... for rate limits and budget counters
    batch_size: int = 500
    flush_interval_seconds: float = Field(default=0.1, ge=0)  # longest an event waits to be written


class TelemetryConfig(_Strict):
    customer_id_max_values: int = 100  # metric label cap; the rest become "other"
    # Install GenOps' tracer provider as the global one when the application set none, so the
    # application's own spans (and self-tracing SDKs such as anthropic 2.x) export with GenOps'.
    global_tracer_provider: bool = True
    metric_export_interval_seconds: float = 10.0


class PriceOverrideConfig(_Strict):
    model: str
    provider: str | None = None
    input_per_million: Decimal | None = None
    output_per_million: Decimal | None = None
    cached_input_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100)


VectorDBName = Literal["pinecone", "weaviate", "chroma"]


class VectorDBPriceConfig(_Strict):
    """Prices of one vector database (`pricing.vector_db.<name>`), in USD. For Pinecone, fields
    set here replace GenOps' default list prices; for Weaviate and Chroma, a configured database
    is priced exactly as written (fields left out cost $0) and an unconfigured one is unknown."""

    read_unit_per_million: Decimal | None = Field(default=None, ge=0)
    write_unit_per_million: Decimal | None = Field(default=None, ge=0)
    storage_gb_month: Decimal | None = Field(default=None, ge=0)
    query: Decimal | None = Field(default=None, ge=0)  # per query request
    upsert: Decimal | None = Field(default=None, ge=0)  # per insert/upsert request
    delete: Decimal | None = Field(default=None, ge=0)  # per delete request


class PricingConfig(_Strict):
    overrides: list[PriceOverrideConfig] = Field(default_factory=list)
    vector_db: dict[VectorDBName, VectorDBPriceConfig] = Field(default_factory=dict)


class ReportingConfig(_Strict):
    """`genops report` / `genops export` defaults (`reporting:`)."""

    timezone: str = "UTC"  # calendar days, weeks and months of reports and exports (IANA name)
    billing_account_id: str = "genops"  # FOCUS BillingAccountId
    billing_account_name: str = "GenOps"  # FOCUS BillingAccountName
    chargeback_sku: str = "AI API Usage"  # the invoice line item of `genops export --format chargeback`
    chargeback_markup_percent: Decimal = Field(default=Decimal(0), ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)


# One `policies:` item: a typed policy from `genops.policy.schema`, chosen by its `type` field.
PolicyConfig = AnyPolicy


class Settings(_Strict):
    service_name: str = "genops-app"
    environment: str = "development"
    exporters: list[ExporterConfig] = Field(default_factory=list)
    providers: dict[ProviderName, ProviderConfig] = Field(default_factory=dict)
    policies: list[AnyPolicy] = Field(default_factory=list)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    reporting: ReportingConfig = Field(default_factory=ReportingConfig)
    resource_attributes: dict[str, str] = Field(default_factory=dict)

    # Where the settings came from (not a YAML key).
    source_path: Path | None = Field(default=None, exclude=True)

    def provider(self, name: str) -> ProviderConfig:
        """The settings of one provider integration (defaults when it is not configured)."""
        return self.providers.get(name) or ProviderConfig()  # type: ignore[call-overload]

    def parsed_policies(self) -> list[AnyPolicy]:
        """The configured policies as typed models (`BudgetPolicy`, `ModelPolicy`, ...), in file order."""
        return list(self.policies)
