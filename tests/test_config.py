"""Configuration loading: the case study's genops.yaml files, precedence, ${VAR}, and errors
that name the file, the line and the field."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genops.cli import app
from genops.config import Settings
from genops.config_loader import CONFIG_PATH_VAR, ENV_SETTINGS, load_settings
from genops.errors import ConfigError
from genops.policy.schema import BudgetPolicy, CustomPolicy, ModelPolicy

CASESTUDY = Path(__file__).parent / "fixtures" / "casestudy"
KEYS = {"OPENAI_API_KEY": "sk-a", "PINECONE_API_KEY": "pc-a", "ANTHROPIC_API_KEY": "an-b", "COHERE_API_KEY": "co-b"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GENOPS_* / OTEL_* settings from the machine leak into these tests."""
    for var in [CONFIG_PATH_VAR, *(s.var for s in ENV_SETTINGS), *KEYS, "UNSET_VAR", "EMPTY_VAR"]:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in KEYS.items():
        monkeypatch.setenv(var, value)


def write(tmp_path: Path, text: str, name: str = "genops.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path | None = None, **overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, overrides=overrides or None)
    return info.value


# --- the case study -----------------------------------------------------------------------------


def test_team_a_loads(keys: None) -> None:
    s = load_settings(CASESTUDY / "team_a.yaml")
    assert (s.service_name, s.environment) == ("customer-support-chatbot", "production")
    assert [(e.type, e.endpoint) for e in s.exporters] == [("otlp", "http://otel-collector.techcorp.com:4317")]
    assert s.providers["openai"].api_key == "sk-a"
    assert s.providers["openai"].track_embeddings is True
    assert s.providers["pinecone"].api_key == "pc-a"
    budget, model = s.parsed_policies()
    assert isinstance(budget, BudgetPolicy) and isinstance(model, ModelPolicy)
    assert (budget.name, budget.limit, budget.period, budget.teams, budget.enforcement) == (
        "team_a_budget", Decimal("10000.0"), "monthly", ["support"], "WARNING"
    )
    assert (model.name, model.blocked, model.environment, model.enforcement) == (
        "no_gpt4_in_dev", ["gpt-4"], "development", "BLOCKED"
    )
    a = s.attribution
    assert (a.team, a.project, a.customer_field) == ("support", "chatbot", "x-customer-id")
    assert s.source_path == CASESTUDY / "team_a.yaml"


def test_team_b_loads(keys: None) -> None:
    s = load_settings(CASESTUDY / "team_b.yaml")
    assert s.service_name == "internal-knowledge-search"
    assert {name: p.api_key for name, p in s.providers.items()} == {"anthropic": "an-b", "cohere": "co-b"}
    [budget] = s.parsed_policies()
    assert (budget.teams, budget.limit, budget.enforcement) == (["knowledge"], Decimal("10000.0"), "WARNING")
    assert (s.attribution.team, s.attribution.project) == ("knowledge", "docs-search")


def test_team_c_loads() -> None:  # no ${VAR} in this one: loads with an empty environment
    s = load_settings(CASESTUDY / "team_c.yaml")
    assert s.service_name == "sales-intelligence"
    assert s.providers["litellm"].auto_instrument is True
    budget, fallback = s.parsed_policies()
    assert (budget.teams, budget.enforcement) == (["sales"], "BLOCKED")
    assert isinstance(fallback, CustomPolicy)
    assert fallback.config.primary == "gpt-4-turbo"
    assert fallback.config.fallback == ["claude-opus-4", "cohere-command-r-plus"]
    assert (s.attribution.team, s.attribution.project) == ("sales", "competitive-intel")


def test_case_study_file_without_its_keys_names_the_variables() -> None:
    err = error_of(CASESTUDY / "team_a.yaml")
    assert [(e.line, e.field) for e in err.errors] == [
        (11, "genops.providers.openai.api_key"),
        (15, "genops.providers.pinecone.api_key"),
    ]
    assert "environment variable OPENAI_API_KEY is not set" in str(err)
    assert str(err).startswith(f"{CASESTUDY / 'team_a.yaml'}:11: ")


# --- defaults and precedence --------------------------------------------------------------------


def test_no_file_no_arguments_gives_defaults() -> None:
    assert load_settings() == Settings()
    assert load_settings().service_name == "genops-app"


@pytest.mark.parametrize(
    ("file", "env", "arg", "expected"),
    [
        (False, False, False, "genops-app"),
        (True, False, False, "from-file"),
        (True, True, False, "from-env"),
        (True, True, True, "from-arg"),
        (False, False, True, "from-arg"),
    ],
)
def test_precedence_argument_environment_file_default(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, file: bool, env: bool, arg: bool, expected: str
) -> None:
    path = write(tmp_path, "genops:\n  service_name: from-file\n") if file else None
    if env:
        clean_env.setenv("GENOPS_SERVICE_NAME", "from-env")
    s = load_settings(path, overrides={"service_name": "from-arg"} if arg else None)
    assert s.service_name == expected


def test_genops_service_name_wins_over_otel_service_name(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_SERVICE_NAME", "otel")
    assert load_settings().service_name == "otel"
    clean_env.setenv("GENOPS_SERVICE_NAME", "genops")
    assert load_settings().service_name == "genops"


def test_argument_mappings_merge_into_the_file_section(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "genops:\n  storage:\n    url: sqlite:///file.db\n    batch_size: 7\n  environment: staging\n")
    clean_env.setenv("GENOPS_STORAGE_URL", "sqlite:///env.db")
    assert load_settings(path).storage.url == "sqlite:///env.db"
    s = load_settings(path, overrides={"storage": {"url": "sqlite:///arg.db"}, "environment": None})
    assert (s.storage.url, s.storage.batch_size, s.environment) == ("sqlite:///arg.db", 7, "staging")


def test_config_path_from_genops_config(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "genops:\n  environment: from-genops-config\n")
    clean_env.setenv(CONFIG_PATH_VAR, str(path))
    assert load_settings().environment == "from-genops-config"
    clean_env.setenv(CONFIG_PATH_VAR, str(tmp_path / "missing.yaml"))
    assert "config file not found (the path is from GENOPS_CONFIG)" in str(error_of())


def test_init_style_policy_dicts_become_typed_policies() -> None:
    s = load_settings(overrides={"policies": [{"name": "cap", "type": "budget", "limit": "25.50", "teams": "ml"}]})
    [policy] = s.parsed_policies()
    assert isinstance(policy, BudgetPolicy)
    assert (policy.limit, policy.teams, policy.enforcement) == (Decimal("25.50"), ["ml"], "WARNING")


def test_yaml_floats_are_exact_decimals(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  policies:\n    - {name: b, type: budget, limit: 1234.10}\n")
    assert load_settings(path).parsed_policies()[0].limit == Decimal("1234.10")


# --- environment variables ----------------------------------------------------------------------


def test_simple_environment_settings(clean_env: pytest.MonkeyPatch) -> None:
    for var, value in {
        "GENOPS_ENVIRONMENT": "prod", "GENOPS_TEAM": "t", "GENOPS_PROJECT": "p", "GENOPS_STORAGE_URL": "sqlite:///x.db"
    }.items():
        clean_env.setenv(var, value)
    s = load_settings()
    assert (s.environment, s.attribution.team, s.attribution.project, s.storage.url) == ("prod", "t", "p", "sqlite:///x.db")


def test_otlp_environment_configures_the_files_otlp_exporter(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "genops:\n  exporters:\n    - type: otlp\n      endpoint: http://file:4317\n      timeout_seconds: 3\n    - type: console\n")
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")
    clean_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    s = load_settings(path)
    assert [(e.type, e.endpoint, e.protocol, e.timeout_seconds) for e in s.exporters] == [
        ("otlp", "http://env:4318", "http", 3.0),
        ("console", None, None, 10.0),
    ]
    clean_env.setenv("GENOPS_EXPORTER", "console")
    assert [e.type for e in load_settings(path).exporters] == ["console"]


def test_otlp_endpoint_alone_adds_an_otlp_exporter(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    clean_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    [exporter] = load_settings().exporters
    assert (exporter.type, exporter.endpoint, exporter.protocol) == ("otlp", "http://collector:4317", "grpc")


def test_genops_exporter_none_and_lists(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GENOPS_EXPORTER", "none")
    assert [e.type for e in load_settings().exporters] == ["none"]
    clean_env.setenv("GENOPS_EXPORTER", "OTLP, console")
    assert [e.type for e in load_settings().exporters] == ["otlp", "console"]


def test_resource_attributes_merge_over_the_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "genops:\n  resource_attributes:\n    team.owner: a\n    region: eu\n")
    clean_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, region=us%2Deast,k8s.pod.name=web-1")
    assert load_settings(path).resource_attributes == {
        "team.owner": "a", "region": "us-east", "deployment.environment": "prod", "k8s.pod.name": "web-1"
    }


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        (
            "GENOPS_EXPORTER",
            "otel",
            "environment variable GENOPS_EXPORTER: 'otel' is not allowed; "
            + "allowed values: otlp, console, none, prometheus; did you mean 'otlp'?",
        ),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
            "environment variable OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' is not allowed; allowed values: grpc, http/protobuf",
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "a=1,broken",
            "environment variable OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas, got 'broken'",
        ),
    ],
)
def test_bad_environment_values(clean_env: pytest.MonkeyPatch, var: str, value: str, expected: str) -> None:
    clean_env.setenv(var, value)
    assert str(error_of()) == expected


# --- ${VAR} interpolation -----------------------------------------------------------------------


def test_interpolation(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SVC", "billing")
    clean_env.setenv("EMPTY_VAR", "")
    path = write(tmp_path, (
        "genops:\n"
        "  service_name: ${SVC}-api\n"
        "  environment: '${UNSET_VAR:-staging}'\n"
        "  storage:\n"
        "    url: \"${EMPTY_VAR:-sqlite:///fallback.db}\"\n"
        "    batch_size: ${UNSET_VAR:-64}\n"
        "  attribution:\n"
        "    defaults:\n"
        "      literal: \"$${SVC} costs $$5\"\n"
    ))
    s = load_settings(path)
    assert (s.service_name, s.environment) == ("billing-api", "staging")
    assert (s.storage.url, s.storage.batch_size) == ("sqlite:///fallback.db", 64)
    assert s.attribution.defaults == {"literal": "${SVC} costs $$5"}


def test_unset_variable_names_variable_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  service_name: svc\n  storage:\n    url: ${UNSET_VAR}\n")
    err = error_of(path)
    assert (err.path, err.line, err.field) == (str(path), 4, "genops.storage.url")
    assert str(err) == (
        f"{path}:4: genops.storage.url: environment variable UNSET_VAR is not set (write ${{UNSET_VAR:-default}} for a default)"
    )


def test_unset_variable_in_a_block_scalar_names_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  alerts:\n    note: |\n      first line\n      key ${UNSET_VAR}\n")
    assert error_of(path).line == 5


def test_bad_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  service_name: '${NOT VALID}'\n  environment: '${OPEN'\n")
    err = error_of(path)
    assert [(e.line, e.field) for e in err.errors] == [(2, "genops.service_name"), (3, "genops.environment")]
    assert "bad reference '${NOT VALID}'; write ${NAME} or ${NAME:-default}" in str(err)


# --- errors -------------------------------------------------------------------------------------

POLICIES = """\
genops:
  service_name: svc
  policies:
    - name: cap
      type: budget
      limit: 100
    - name: no_gpt4
      type: model
      blocked: [gpt-4]
      enforcement: BLOCK
"""


def test_misspelled_key_did_you_mean_with_exact_line(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  service_name: svc\n\n  atribution:\n    team: a\n")
    err = error_of(path)
    assert (err.line, err.field) == (4, "genops.atribution")
    assert str(err) == f"{path}:4: genops.atribution: unknown key 'atribution'; did you mean 'attribution'?"


def test_misspelled_policy_key_is_an_error_too(tmp_path: Path) -> None:
    path = write(tmp_path, POLICIES.replace("limit: 100", "limt: 100").replace("BLOCK\n", "BLOCKED\n"))
    err = error_of(path)
    assert [(e.line, e.field) for e in err.errors] == [(4, "genops.policies[0].limit"), (6, "genops.policies[0].limt")]
    assert f"{path}:6: genops.policies[0].limt: unknown key 'limt'; did you mean 'limit'?" in str(err).splitlines()
    assert f"{path}:4: genops.policies[0].limit: required field is missing" in str(err).splitlines()


def test_bad_enforcement_lists_allowed_values_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, POLICIES)
    err = error_of(path)
    assert (err.path, err.line, err.field) == (str(path), 10, "genops.policies[1].enforcement")
    assert str(err) == (
        f"{path}:10: genops.policies[1].enforcement: value 'BLOCK' is not allowed; allowed values: WARNING, BLOCKED; "
        "did you mean 'BLOCKED'?"
    )


def test_unknown_policy_type_lists_the_types(tmp_path: Path) -> None:
    path = write(tmp_path, POLICIES.replace("type: model", "type: models"))
    err = error_of(path)
    assert (err.line, err.field) == (8, "genops.policies[1].type")
    assert "unknown type 'models'; allowed: budget, model, rate_limit, custom; did you mean 'model'?" in str(err)


def test_missing_policy_type(tmp_path: Path) -> None:
    path = write(tmp_path, POLICIES.replace("      type: budget\n", ""))
    err = error_of(path).errors[0]
    assert (err.line, err.field) == (4, "genops.policies[0]")
    assert "missing 'type' (one of: budget, model, rate_limit, custom)" in str(err)


def test_unknown_provider_name(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  providers:\n    anthropic: {}\n    opneai:\n      api_key: x\n")
    err = error_of(path)
    assert (err.line, err.field) == (4, "genops.providers.opneai")
    assert "unknown key 'opneai'; allowed keys: openai, anthropic," in str(err)
    assert str(err).endswith("did you mean 'openai'?")


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  providers:\n    openai:\n      api_key: 918273645\n  storage:\n    batch_size: lots\n")
    err = error_of(path)
    assert "918273645" not in str(err)
    assert f"{path}:4: genops.providers.openai.api_key: Input should be a valid string" in str(err).splitlines()
    assert f"{path}:6: genops.storage.batch_size: Input should be a valid integer, unable to parse string as an integer (got 'lots')" in str(err).splitlines()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  service_name: svc\n  exporters:\n    - type: otlp\n     endpoint: http://x\n")
    err = error_of(path)
    assert (err.path, err.line) == (str(path), 5)
    assert str(err).startswith(f"{path}:5: YAML syntax error: expected <block end>")


def test_every_problem_is_reported_one_per_line_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "genops:\n"
        "  service_nam: svc\n"                       # 2 unknown key
        "  exporters:\n"
        "    - type: otel\n"                         # 4 bad literal
        "  policies:\n"
        "    - {name: x, type: budget, limit: -1}\n"  # 6 limit > 0
        "  storage:\n"
        "    url: ${UNSET_VAR}\n"                    # 8 unset variable
        "  storage: {}\n"                            # 9 duplicate key
        "genop: {}\n"                                # 10 unknown top-level key
    ))
    err = error_of(path, telemetry={"global_tracer_provider": "maybe"})
    assert [(e.line, e.field) for e in err.errors] == [
        (2, "genops.service_nam"),
        (4, "genops.exporters[0].type"),
        (6, "genops.policies[0].limit"),
        (8, "genops.storage.url"),
        (9, None),
        (10, None),
        (None, "genops.telemetry.global_tracer_provider"),
    ]
    lines = str(err).splitlines()
    assert len(lines) == 7 and all(line.startswith(f"{path}:") for line in lines[:6])
    assert lines[4] == f"{path}:9: duplicate key 'storage' (first written at line 7)"
    assert lines[5] == f"{path}:10: unknown top-level key 'genop'; did you mean 'genops'?"
    assert lines[6] == (
        "genops.telemetry.global_tracer_provider: Input should be a valid boolean, unable to interpret input (got 'maybe') "
        "(from argument 'telemetry')"
    )


def test_unknown_argument_did_you_mean() -> None:
    err = error_of(service_nme="x")
    assert str(err) == "genops.service_nme: unknown key 'service_nme'; did you mean 'service_name'? (from argument 'service_nme')"


def test_otlp_endpoint_applies_only_to_otlp_exporters(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "genops:\n  exporters: [{type: console}, {type: otlp, timeout_seconds: 2}]\n")
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317")
    assert [(e.type, e.endpoint) for e in load_settings(path).exporters] == [("console", None), ("otlp", "http://x:4317")]


def test_top_level_key_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "service_name: svc\n")
    lines = str(error_of(path)).splitlines()
    assert lines == [
        f"{path}:1: unknown top-level key 'service_name' (settings go under 'genops:')",
        f"{path}:1: missing top-level 'genops:' key",
    ]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_validate_ok(keys: None) -> None:
    result = CliRunner().invoke(app, ["config", "validate", str(CASESTUDY / "team_a.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{CASESTUDY / 'team_a.yaml'}: OK",
        "  service: customer-support-chatbot",
        "  environment: production",
        "  exporters: otlp (http://otel-collector.techcorp.com:4317)",
        "  providers: openai, pinecone",
        "  2 policies: team_a_budget (budget, WARNING), no_gpt4_in_dev (model, BLOCKED)",
    ]


def test_cli_validate_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, POLICIES + "  servce_name: x\n")
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        (
            f"error: {path}:10: genops.policies[1].enforcement: value 'BLOCK' is not allowed; "
            "allowed values: WARNING, BLOCKED; did you mean 'BLOCKED'?"
        ),
        f"error: {path}:11: genops.servce_name: unknown key 'servce_name'; did you mean 'service_name'?",
    ]


def test_cli_entry_point_reports_config_errors_cleanly(tmp_path: Path) -> None:
    path = write(tmp_path, "genops:\n  service_name: [\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENOPS_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", "from genops.cli import main; main()", "config", "validate", str(path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {path}:3: YAML syntax error:")
