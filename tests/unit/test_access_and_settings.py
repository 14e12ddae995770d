"""The permission map and the environment-driven settings."""

from __future__ import annotations

import pytest

from core.db import async_url, make_engine
from core.settings import Settings
from models.domain.access import ALL_ROLES, KEY_ROLES, PERMISSIONS, STAFF_ROLES, allowed


def test_permissions_name_only_known_roles_and_admin_holds_every_staff_permission() -> None:
    for permission, roles in PERMISSIONS.items():
        assert roles <= ALL_ROLES, permission
        if roles & STAFF_ROLES:
            assert "admin" in roles, permission


@pytest.mark.parametrize(
    ("roles", "permission", "expected"),
    [
        ({"ops"}, "catalog.write", True),
        ({"cs"}, "catalog.write", False),
        ({"device"}, "stock.adjust", False),
        ({"warehouse_manager"}, "stock.adjust", True),
        ({"storefront"}, "users.manage", False),
        ({"cs", "finance"}, "supplier.read", True),
        ({"admin"}, "no.such.permission", False),
    ],
)
def test_allowed(roles: set[str], permission: str, expected: bool) -> None:
    assert allowed(frozenset(roles), permission) is expected


def test_keys_never_manage_users_or_write_reference_data() -> None:
    for permission in (
        "users.manage",
        "audit.read",
        "catalog.write",
        "warehouse.write",
        "supplier.write",
        "stock.adjust",
    ):
        assert not PERMISSIONS[permission] & KEY_ROLES


def test_settings_read_the_environment_including_nested_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUTAI_DATABASE_URL", "postgresql://u:p@db:5432/houtai")
    monkeypatch.setenv("HOUTAI_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("HOUTAI_API__PORT", "9000")
    monkeypatch.setenv("HOUTAI_API__ADMIN_IP_ALLOWLIST", '["10.0.0.0/8"]')
    monkeypatch.setenv("HOUTAI_AUTH__TOKEN_SECRET", "z" * 40)
    settings = Settings()
    assert settings.require_database_url() == "postgresql://u:p@db:5432/houtai"
    assert settings.require_temporal_address() == "temporal:7233"
    assert settings.api.port == 9000
    assert settings.api.admin_ip_allowlist == ["10.0.0.0/8"]
    assert settings.require_token_secret().get_secret_value() == "z" * 40
    assert "z" * 40 not in repr(settings)


def test_production_entry_points_refuse_to_run_without_their_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HOUTAI_DATABASE_URL", "HOUTAI_TEMPORAL_ADDRESS", "HOUTAI_AUTH__TOKEN_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    with pytest.raises(RuntimeError, match="HOUTAI_DATABASE_URL"):
        settings.require_database_url()
    with pytest.raises(RuntimeError, match="HOUTAI_TEMPORAL_ADDRESS"):
        settings.require_temporal_address()
    monkeypatch.setenv("HOUTAI_AUTH__TOKEN_SECRET", "short")
    with pytest.raises(RuntimeError, match="at least 32"):
        Settings().require_token_secret()


def test_plain_postgres_urls_get_the_async_driver() -> None:
    assert async_url("postgresql://u:p@h:5/d") == "postgresql+asyncpg://u:p@h:5/d"
    assert async_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"


def test_the_api_keeps_as_many_connections_as_it_serves_requests_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HOUTAI_API__DB_CONNECTIONS sizes the API's pool (default 50: a storefront's flash-sale
    rush); other processes keep 2 × pool_size."""
    assert Settings().api.db_connections == 50
    monkeypatch.setenv("HOUTAI_API__DB_CONNECTIONS", "64")
    assert Settings().api.db_connections == 64
    url = "postgresql://u:p@127.0.0.1:1/houtai"  # nothing connects: the pool is only built
    assert make_engine(url, connections=64).pool.size() == 64  # type: ignore[attr-defined]
    assert make_engine(url).pool.size() == 20  # type: ignore[attr-defined]
