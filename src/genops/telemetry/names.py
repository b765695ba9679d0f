"""Attribute and instrument names, looked up once.

`gen_ai.*` names come from the OpenTelemetry semantic conventions package (incubating GenAI
attributes and metrics); `genops.*` names are GenOps' own governance vocabulary. The bare metric
attribute names (`team`, `customer_id`, ...) are a contract with the case study's Datadog
dashboards (`sum:genops.cost.total{team:support} by {customer_id}`).
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import deployment_attributes as _deployment_incubating
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _ga
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gm
from opentelemetry.semconv.attributes import deployment_attributes as _deployment
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import service_attributes as _service

# -- gen_ai.* span and metric attributes ----------------------------------------------------
GEN_AI_OPERATION_NAME = _ga.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME = _ga.GEN_AI_PROVIDER_NAME
GEN_AI_SYSTEM = _ga.GEN_AI_SYSTEM  # the pre-1.37 name of gen_ai.provider.name; older backends read it
GEN_AI_REQUEST_MODEL = _ga.GEN_AI_REQUEST_MODEL
GEN_AI_RESPONSE_MODEL = _ga.GEN_AI_RESPONSE_MODEL
GEN_AI_REQUEST_STREAM = _ga.GEN_AI_REQUEST_STREAM
GEN_AI_USAGE_INPUT_TOKENS = _ga.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS = _ga.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = _ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = _ga.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = _ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
GEN_AI_TOKEN_TYPE = _ga.GEN_AI_TOKEN_TYPE
TOKEN_TYPE_INPUT = _ga.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT = _ga.GenAiTokenTypeValues.OUTPUT.value

# -- gen_ai.* metrics ----------------------------------------------------------------------
GEN_AI_CLIENT_TOKEN_USAGE = _gm.GEN_AI_CLIENT_TOKEN_USAGE
GEN_AI_CLIENT_OPERATION_DURATION = _gm.GEN_AI_CLIENT_OPERATION_DURATION
# Bucket boundaries the GenAI conventions recommend for these two histograms.
TOKEN_USAGE_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# -- general -------------------------------------------------------------------------------
ERROR_TYPE = _error.ERROR_TYPE
SERVICE_NAME = _service.SERVICE_NAME
DEPLOYMENT_ENVIRONMENT_NAME = _deployment.DEPLOYMENT_ENVIRONMENT_NAME
DEPLOYMENT_ENVIRONMENT = _deployment_incubating.DEPLOYMENT_ENVIRONMENT  # pre-1.27 name, still read by Datadog

# -- genops.* span attributes ----------------------------------------------------------------
GENOPS_PREFIX = "genops."
COST_TOTAL = "genops.cost.total"
COST_TOTAL_STR = "genops.cost.total_str"
COST_CURRENCY = "genops.cost.currency"
COST_INPUT = "genops.cost.input"
COST_OUTPUT = "genops.cost.output"
COST_KNOWN = "genops.cost.known"
COST_UNKNOWN_REASON = "genops.cost.unknown_reason"
PRICE_SOURCE = "genops.price.source"
PRICE_VERSION = "genops.price.version"
USAGE_PROVENANCE = "genops.usage.provenance"
USAGE_UNITS_PREFIX = "genops.usage.units."
STREAM = "genops.stream"
EVENT_ID = "genops.event_id"
LATENCY_MS = "genops.latency_ms"
STATUS = "genops.status"
MODEL_SUBSTITUTED_FROM = "genops.model.substituted_from"
POLICY_DECISION_EVENT = "genops.policy.decision"
POLICY_NAME = "genops.policy.name"
POLICY_TYPE = "genops.policy.type"
POLICY_ACTION = "genops.policy.action"
POLICY_REASON = "genops.policy.reason"
POLICY_DETAIL = "genops.policy.detail"
POLICY_EVALUATED = "genops.policy.evaluated"  # names of every policy that gave a decision
POLICY_RESULT = "genops.policy.result"  # the strictest action among them
POLICY_TRIGGERED = "genops.policy.triggered"  # names of policies whose action was not "allow"

# -- genops.* metrics -----------------------------------------------------------------------
METER_NAME = "genops"
METRIC_COST_TOTAL = "genops.cost.total"
METRIC_TOKENS_INPUT = "genops.tokens.input"
METRIC_TOKENS_OUTPUT = "genops.tokens.output"
METRIC_REQUESTS = "genops.requests"
METRIC_LATENCY = "genops.latency"
METRIC_COST_PER_REQUEST = "genops.cost.per_request"
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
COST_BUCKETS_USD = (0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

# Bare metric attribute names (the dashboard contract) and the "other" customer bucket.
METRIC_ATTRIBUTES = ("team", "project", "customer_id", "provider", "model", "operation", "environment", "status")
OTHER_CUSTOMER = "other"
