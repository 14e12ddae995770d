"""The production stack (docker-compose.yml) against the code it runs: the `houtai` commands,
the Settings fields, the one-shot ordering and the worker's scalability."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

from core.db import make_engine
from core.settings import WORKER_CONNECTIONS, ApiSettings, Settings
from workers.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PYPROJECT = ROOT / "pyproject.toml"

EXPECTED_SERVICES = {
    "postgresql",
    "temporal-admin-tools",
    "temporal",
    "temporal-ui",
    "migrate",
    "api",
    "worker",
}
COMPLETED = "service_completed_successfully"
# Stands in for variables the deployer must set (`${NAME:?message}`); long enough for the
# token secret's 32-character minimum.
REQUIRED_PLACEHOLDER = "x" * 40

_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --- helpers -------------------------------------------------------------------------------


def settings_field_path(env_name: str, model: type[BaseModel] = Settings) -> tuple[str, ...] | None:
    """The field path (e.g. ("api", "host")) pydantic-settings fills from `env_name`, or None.

    Follows Settings' own env_prefix and env_nested_delimiter, case-insensitively, walking nested
    models through `model_fields`; every segment must name a field, and only the last may be a
    leaf, so HOUTAI_API__NOPE and HOUTAI_DATABASE_URL__X are rejected."""
    config = Settings.model_config
    prefix = str(config.get("env_prefix") or "")
    delimiter = str(config.get("env_nested_delimiter") or "")
    if not env_name.lower().startswith(prefix.lower()) or len(env_name) == len(prefix):
        return None
    parts = env_name[len(prefix) :].lower()
    segments = parts.split(delimiter) if delimiter else [parts]
    path: list[str] = []
    current: type[BaseModel] | None = model
    for segment in segments:
        if current is None:  # the previous segment was a leaf: nothing nests under it
            return None
        fields = {name.lower(): name for name in current.model_fields}
        if segment not in fields:
            return None
        name = fields[segment]
        path.append(name)
        current = _nested_model(current.model_fields[name].annotation)
    return tuple(path)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field nests (unwrapping `X | None`), or None for a leaf."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [arg for arg in typing.get_args(annotation) if _nested_model(arg) is not None]
        if len(models) == 1:
            return _nested_model(models[0])
    return None


def interpolate(value: str) -> str:
    """Compose's variable substitution as a deployer sees it: defaults applied, required
    variables given a placeholder, `$$` kept for the container's shell."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        operator, argument = match.group(2), match.group(3)
        if operator in (":-", "-"):
            return str(argument)
        return REQUIRED_PLACEHOLDER

    return _INTERPOLATION.sub(substitute, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return shlex.split(command)
    assert isinstance(command, list), f"no command: {service}"
    return [str(word) for word in command]


def is_our_image(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return "build" in service or image.partition(":")[0].rpartition("/")[2] == "houtai"


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on") or {}
    assert isinstance(raw, dict), "depends_on must use the long form to carry conditions"
    return raw


def project_version() -> str:
    return str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def our_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ours = {name: service for name, service in services.items() if is_our_image(service)}
    assert {"migrate", "api", "worker"} <= set(ours)
    return ours


@pytest.fixture(scope="module")
def houtai_env(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every HOUTAI_* variable any service receives, as interpolated for a deployer."""
    found: dict[str, str] = {}
    for service in services.values():
        for key, value in environment(service).items():
            if key.upper().startswith("HOUTAI_"):
                found[key] = interpolate(value)
    assert found
    return found


# --- the settings-mapping helper itself ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("HOUTAI_DATABASE_URL", ("database_url",)),
        ("houtai_temporal_address", ("temporal_address",)),
        ("HOUTAI_API__HOST", ("api", "host")),
        ("HOUTAI_API__PORT", ("api", "port")),
        ("HOUTAI_AUTH__TOKEN_SECRET", ("auth", "token_secret")),
        ("HOUTAI_EMBEDDED__POSTGRES_PORT", ("embedded", "postgres_port")),
        ("HOUTAI_API", ("api",)),
    ],
)
def test_settings_field_path_accepts_real_fields(name: str, path: tuple[str, ...]) -> None:
    assert settings_field_path(name) == path


@pytest.mark.parametrize(
    "name",
    [
        "HOUTAI_API__NOPE",
        "HOUTAI_NOPE",
        "HOUTAI_API_HOST",  # single underscore: not the nested delimiter
        "HOUTAI_DATABASE_URL__HOST",  # a leaf has no fields
        "HOUTAI_AUTH__TOKEN_SECRET__X",
        "HOUTAI_API__",
        "HOUTAI_",
        "DATABASE_URL",
        "OTHER_DATABASE_URL",
    ],
)
def test_settings_field_path_rejects_bogus_names(name: str) -> None:
    assert settings_field_path(name) is None


def test_settings_field_path_agrees_with_pydantic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUTAI_API__HOST", "10.1.2.3")
    monkeypatch.setenv("HOUTAI_API__NOPE", "ignored")
    settings = Settings()
    assert settings_field_path("HOUTAI_API__HOST") == ("api", "host")
    assert settings.api.host == "10.1.2.3"
    assert settings_field_path("HOUTAI_API__NOPE") is None
    assert not hasattr(settings.api, "nope")


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_has_the_production_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= EXPECTED_SERVICES


def test_no_deprecated_auto_setup_image(services: dict[str, dict[str, Any]]) -> None:
    images = [str(service.get("image", "")) for service in services.values()]
    assert not [image for image in images if "auto-setup" in image]


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = interpolate(str(service.get("image", "")))
        assert image, f"{name} has no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_our_image_tag_is_the_project_version(our_services: dict[str, dict[str, Any]]) -> None:
    for name, service in our_services.items():
        assert service.get("image") == f"houtai:{project_version()}", name


def test_our_services_run_a_real_houtai_command(our_services: dict[str, dict[str, Any]]) -> None:
    for name, service in our_services.items():
        words = command_words(service)
        assert len(words) >= 2 and words[0] == "houtai", f"{name}: {words}"
        assert words[1] in COMMANDS, f"{name}: `{words[1]}` is not a houtai command"
        try:
            args = build_parser().parse_args(words[1:])
        except SystemExit as exc:  # argparse exits on what it rejects
            pytest.fail(f"{name}: houtai rejects {words[1:]} ({exc})")
        assert args.command == words[1]


def test_each_role_has_its_service(our_services: dict[str, dict[str, Any]]) -> None:
    roles = {command_words(service)[1]: name for name, service in our_services.items()}
    assert roles.get("migrate") == "migrate"
    assert roles.get("api") == "api"
    assert roles.get("worker") == "worker"


def test_every_houtai_variable_is_a_settings_field(houtai_env: dict[str, str]) -> None:
    unknown = sorted(name for name in houtai_env if settings_field_path(name) is None)
    assert not unknown, f"not fields of core.settings.Settings: {unknown}"


def test_our_services_share_one_environment(our_services: dict[str, dict[str, Any]]) -> None:
    environments = [environment(service) for service in our_services.values()]
    assert all(env == environments[0] for env in environments)
    required = {
        "HOUTAI_DATABASE_URL",
        "HOUTAI_TEMPORAL_ADDRESS",
        "HOUTAI_AUTH__TOKEN_SECRET",
        "HOUTAI_API__HOST",
        "HOUTAI_LOG_LEVEL",
        # every provider the workers call, or they call the embedded sandboxes' addresses
        "HOUTAI_PAYMENTS__URL",
        "HOUTAI_CARRIER__URL",
        "HOUTAI_SUPPLIER__URL",
    }
    assert required <= set(environments[0])


def test_compose_environment_loads_into_settings(
    houtai_env: dict[str, str],
    services: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HOUTAI_"):
            monkeypatch.delenv(name)
    for name, value in houtai_env.items():
        monkeypatch.setenv(name, value)

    settings = Settings()  # validates every value (log level, port, ...)

    for name, value in houtai_env.items():
        path = settings_field_path(name)
        assert path is not None
        loaded: Any = settings
        for field in path:
            loaded = getattr(loaded, field)
        if isinstance(loaded, SecretStr):
            loaded = loaded.get_secret_value()
        assert str(loaded) == value, name
    url = make_url(settings.require_database_url())
    assert url.drivername == "postgresql+asyncpg"
    assert url.host in services
    temporal_host, _, temporal_port = settings.require_temporal_address().partition(":")
    assert temporal_host in services and temporal_port == "7233"
    assert settings.require_token_secret()
    # Inside its container the API must listen on every interface to be reachable at all.
    assert settings.api.host == "0.0.0.0"  # noqa: S104


def test_secrets_come_from_the_deployer(services: dict[str, dict[str, Any]]) -> None:
    secret = environment(services["api"])["HOUTAI_AUTH__TOKEN_SECRET"]
    assert re.fullmatch(r"\$\{HOUTAI_TOKEN_SECRET:\?[^}]+\}", secret), secret
    database_url = environment(services["api"])["HOUTAI_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in database_url
    assert "${POSTGRES_PASSWORD:?" in environment(services["postgresql"])["POSTGRES_PASSWORD"]


def test_migrate_is_one_shot_and_gates_api_and_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    # The string "no": an unquoted `no` is YAML for false.
    assert services["migrate"].get("restart") == "no"
    for name in ("api", "worker"):
        condition = depends_on(services[name]).get("migrate", {}).get("condition")
        assert condition == COMPLETED, f"{name} must wait for migrate to succeed"


def test_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    replicas = worker.get("deploy", {}).get("replicas")
    assert isinstance(replicas, int) and replicas >= 2


# Temporal's server image runs frontend, history, matching and worker in one process, each
# service with its own pools to the default and the visibility database.
TEMPORAL_SERVICES = 4
# Beyond the long-running pools: migrate and the admin tools (one-shot), an operator's psql,
# PostgreSQL's 3 superuser_reserved_connections.
SPARE_CONNECTIONS = 20


def test_postgresql_accepts_every_connection_the_stack_may_open(
    services: dict[str, dict[str, Any]],
) -> None:
    """PostgreSQL's default max_connections (100) was overrun by the stack's own pools: the API
    processes' and the workers' alone could reach 140, Temporal's 120 more."""
    words = [interpolate(word) for word in command_words(services["postgresql"])]
    settings = [word.partition("=")[2] for word in words if word.startswith("max_connections=")]
    assert len(settings) == 1, f"postgresql sets no max_connections: {words}"
    max_connections = int(settings[0])

    api_env = {key: interpolate(value) for key, value in environment(services["api"]).items()}
    api_processes = int(api_env.get("HOUTAI_API__WORKERS", "1"))
    per_api = int(
        api_env.get(
            "HOUTAI_API__DB_CONNECTIONS", str(ApiSettings.model_fields["db_connections"].default)
        )
    )
    listen = 1  # each API process's change feed (core/changes.py) holds one of its own
    workers = services["worker"]["deploy"]["replicas"]
    temporal_env = environment(services["temporal"])
    per_service = int(temporal_env["SQL_MAX_CONNS"]) + int(temporal_env["SQL_VIS_MAX_CONNS"])

    budget = (
        api_processes * (per_api + listen)
        + workers * WORKER_CONNECTIONS
        + TEMPORAL_SERVICES * per_service
        + SPARE_CONNECTIONS
    )
    assert max_connections >= budget, (max_connections, budget)


def test_a_workers_pool_is_the_size_the_budgets_count() -> None:
    engine = make_engine("postgresql+asyncpg://houtai@postgresql/houtai")  # connects to nothing
    assert engine.pool.size() == WORKER_CONNECTIONS  # type: ignore[attr-defined]


def test_api_publishes_its_configured_port(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    port = environment(api)["HOUTAI_API__PORT"]
    published = [interpolate(str(mapping)) for mapping in api.get("ports", [])]
    assert any(mapping.rsplit(":", 1)[-1] == port for mapping in published), published


def test_postgresql_is_healthchecked_and_persistent(compose: dict[str, Any]) -> None:
    postgresql = compose["services"]["postgresql"]
    assert str(postgresql["image"]).startswith("postgres:16")
    test = postgresql["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    named = [str(volume).split(":")[0] for volume in postgresql.get("volumes", [])]
    assert any(name in (compose.get("volumes") or {}) for name in named), named


def test_temporal_schema_is_set_up_by_admin_tools(services: dict[str, dict[str, Any]]) -> None:
    admin = services["temporal-admin-tools"]
    assert str(admin["image"]).startswith("temporalio/admin-tools:")
    assert depends_on(admin)["postgresql"]["condition"] == "service_healthy"
    script = " ".join(command_words(admin))
    assert "temporal-sql-tool" in script and "postgres12" in script
    for database, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        for step in ("create", "setup-schema", "update-schema"):
            assert re.search(rf"--db {database} {step}\b", script), (database, step)
        assert f"/{schema}/versioned" in script, schema
    assert "/etc/temporal/schema/postgresql/v12" in script


def test_temporal_server_runs_on_postgresql(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    assert str(temporal["image"]).startswith("temporalio/server:")
    admin_tag = str(services["temporal-admin-tools"]["image"]).rpartition(":")[2]
    assert str(temporal["image"]).rpartition(":")[2] == admin_tag, "schema tool and server differ"
    assert depends_on(temporal)["temporal-admin-tools"]["condition"] == COMPLETED
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert env["DB_PORT"] == "5432"
    assert {"POSTGRES_USER", "POSTGRES_PWD", "DYNAMIC_CONFIG_FILE_PATH"} <= set(env)
    script = " ".join(command_words(services["temporal-admin-tools"]))
    assert f"--db {env.get('DBNAME', 'temporal')} " in script
    assert f"--db {env.get('VISIBILITY_DBNAME', 'temporal_visibility')} " in script
    ui = services["temporal-ui"]
    assert str(ui["image"]).startswith("temporalio/ui:")
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_migrate_runs_after_the_namespace_it_registers_into(
    services: dict[str, dict[str, Any]],
) -> None:
    namespace_service = services["temporal-create-namespace"]
    assert depends_on(services["migrate"])["temporal-create-namespace"]["condition"] == COMPLETED
    created = environment(namespace_service)["NAMESPACE"]
    used = environment(services["migrate"]).get("HOUTAI_TEMPORAL_NAMESPACE")
    assert used == created
