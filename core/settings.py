"""One Settings object, read only in composition roots (API lifespan, build_worker, CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The PostgreSQL connections a worker process keeps at most (core/db.py make_engine's default):
# with the API's db_connections, what PostgreSQL's max_connections is sized from.
WORKER_CONNECTIONS = 20


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    # Admin routes may be limited to these client addresses or networks (CIDR). Empty = no limit.
    admin_ip_allowlist: list[str] = Field(default_factory=list)
    # Staff sign-in (POST /v1/auth/login) only from these addresses or networks. Empty = anywhere.
    # Users holding admin permissions sign in only from admin_ip_allowlist as well (when set).
    login_ip_allowlist: list[str] = Field(default_factory=list)
    # uvicorn worker processes serving the API (`houtai api`, `houtai up`); unset: as many as
    # HOUTAI_WORKERS under `houtai up`, one for `houtai api`. Above one, /metrics adds up every
    # process's counts (prometheus_client multiprocess mode, HOUTAI_METRICS__MULTIPROC_DIR).
    workers: int | None = Field(default=None, ge=1, le=32)
    # PostgreSQL connections each API process keeps at most: as many as requests it serves at
    # once (a storefront's 50 connections during a flash sale). Fewer, and the requests waiting
    # for one are overtaken by newer ones (the pool's queue lets a new request take a connection
    # given back before the waiter wakes): a flash refusal's p99 was 3-6x its p50 at 20.
    # PostgreSQL's max_connections must cover API processes x (this + 1, the change feed's
    # LISTEN) + WORKER_CONNECTIONS per worker process (docker-compose.yml says its sum; `houtai
    # up` sizes its embedded server so, workers/launcher.py postgres_connections).
    db_connections: int = Field(default=50, ge=2, le=500)


class ConsoleSettings(BaseModel):
    # Where the console links a document's workflow (the Temporal Web UI) and its namespace.
    temporal_ui_url: str = "http://127.0.0.1:8233"


class AuthSettings(BaseModel):
    # Signs staff bearer tokens. Required in production; `houtai up` keeps one under .houtai/.
    token_secret: SecretStr | None = None
    token_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Lockout: this many failed sign-ins for one username within the window lock it for
    # lockout_minutes (an admin may unlock it sooner); an address failing this often, across
    # usernames, is refused for as long.
    lockout_account_failures: int = Field(default=5, ge=1)
    lockout_address_failures: int = Field(default=20, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    # Users holding any of these roles sign in with a TOTP code as well as their password.
    totp_required_roles: list[str] = Field(default_factory=lambda: ["admin", "finance"])
    totp_issuer: str = "houtai"


class EmbeddedSettings(BaseModel):
    """Ports of the servers `houtai up` starts itself when no external ones are configured."""

    # Start the sandbox payment provider and carrier (set false when real providers are used).
    sandboxes: bool = True
    sandbox_payments_port: int = 8101
    sandbox_carrier_port: int = 8102
    sandbox_supplier_port: int = 8103
    sandbox_robots_port: int = 8104  # 企业微信 / 钉钉 group robots
    sandbox_smtp_port: int = 8125  # the mail server notifications go to
    postgres_port: int = 54329
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Seconds each server may take to come up before `houtai up` gives up with its log.
    startup_timeout_s: float = 60.0


class PaymentSettings(BaseModel):
    """The payment provider (the sandbox under `houtai up`)."""

    provider: str = "sandbox"
    url: str = "http://127.0.0.1:8101"
    webhook_secret: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class CarrierSettings(BaseModel):
    """The carrier API (the sandbox under `houtai up`)."""

    url: str = "http://127.0.0.1:8102"
    webhook_secret: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class SupplierSettings(BaseModel):
    """Where approved purchase orders are sent (the sandbox supplier portal under `houtai up`)."""

    url: str = "http://127.0.0.1:8103"
    webhook_secret: SecretStr | None = None  # for the supplier's callbacks (none used yet)
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class OrderSettings(BaseModel):
    """Every duration and threshold the order rules use (passed to workflows in their input)."""

    payment_window_minutes: int = Field(default=30, ge=1)
    flash_payment_window_minutes: int = Field(default=10, ge=1)  # a flash sale's order (§6.8)
    risk_review_over_fen: int | None = Field(default=500_000, ge=0)
    risk_review_sla_minutes: int = Field(default=120, ge=1)
    auto_confirm_days: int = Field(default=7, ge=0)
    after_sale_window_days: int = Field(default=15, ge=0)
    after_sale_approval_hours: int = Field(default=48, ge=1)
    after_sale_return_days: int = Field(default=7, ge=1)
    late_payment_grace_hours: int = Field(default=24, ge=0)
    tracking_poll_minutes: int = Field(default=360, ge=1)
    weight_tolerance_g: int = Field(default=20, ge=0)
    weight_tolerance_pct: int = Field(default=5, ge=0, le=100)
    box_tare_g: int = Field(default=0, ge=0)
    carrier_code: str = "SF"
    # A pick comes up short and no other location has the units: ship what was picked and
    # backorder the rest as a new package, or cancel the missing units and refund them.
    short_pick_policy: Literal["backorder", "cancel_line"] = "backorder"
    backorder_days: int = Field(default=2, ge=0)


class WaveSettings(BaseModel):
    """Wave planning and picking (DESIGN §6.4); cutoffs are per carrier and warehouse (data)."""

    plan_every_minutes: int = Field(default=5, ge=1)
    max_orders: int = Field(default=50, ge=1)
    max_lines: int = Field(default=200, ge=1)
    max_units: int = Field(default=500, ge=1)
    lead_time_minutes: int = Field(default=60, ge=0)  # picking + packing before the truck
    urgency_margin_minutes: int = Field(default=30, ge=0)
    max_age_minutes: int = Field(default=45, ge=1)  # nobody waits longer for a fuller wave
    sla_margin_minutes: int = Field(default=30, ge=0)  # not done by cutoff - margin: escalated
    task_max_stops: int = Field(default=20, ge=1)  # one tote / one trip
    task_max_units: int = Field(default=60, ge=1)
    # The promise to the customer: a package ships within this long of its release to the
    # warehouse; one whose next reachable cutoff is later is flagged late (never silently late).
    ship_within_hours: int = Field(default=24, ge=1)


class WorkerSettings(BaseModel):
    """A Temporal worker process (`houtai worker`; `houtai up` runs HOUTAI_WORKERS of them)."""

    # Workflows kept in memory between their tasks (the SDK's sticky cache). An evicted one is
    # replayed from its history on its next task (a timer firing, a signal): memory is bounded
    # by this, not by the workflows open. Each cached order costs the worker about 0.3 MB (its
    # own sandboxed copy of the workflow modules): 1,000 took the worker from 148 MB idle to
    # 447 MB, too near DESIGN §10's 500 MB; 500 leaves room for the replays of a busy minute
    # (bench/open_orders.py measures the RSS and how late deadlines fire).
    max_cached_workflows: int = Field(default=500, ge=0)
    # Workflow tasks / activities one process runs at once (the SDK's defaults are 100 each).
    max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    max_concurrent_activities: int = Field(default=100, ge=1)
    # The hand-off sweep (workers/handoffs.py): how often it looks for payments whose webhook
    # never got through and flash claims whose order never started, and how old a statement
    # line must be before the sweep delivers it (the provider's own webhook retries come first).
    handoff_interval_s: float = Field(default=30.0, gt=0)
    handoff_payment_grace_s: float = Field(default=60.0, ge=0)


class NotificationSettings(BaseModel):
    """The outbox sender (DESIGN §6.10): how it polls, retries and reaches the mail server."""

    enabled: bool = True
    poll_interval_s: float = Field(default=1.0, gt=0)
    batch: int = Field(default=20, ge=1, le=500)
    send_timeout_s: float = Field(default=5.0, gt=0)
    backoff_s: float = Field(default=2.0, ge=0)  # doubled per failed attempt
    backoff_max_s: float = Field(default=300.0, ge=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8125
    smtp_from: str = "houtai@example.com"


class PurchasingSettings(BaseModel):
    """Purchase order rules (passed to PurchaseOrderWorkflow in its input)."""

    approval_sla_hours: int = Field(default=24, ge=1)
    two_level_approval_from_fen: int = Field(default=5_000_000, ge=0)
    over_delivery_percent: int = Field(default=5, ge=0, le=100)
    auto_close_days: int = Field(default=14, ge=1)
    replenish_every_minutes: int = Field(default=60, ge=1)


class MetricsSettings(BaseModel):
    """Prometheus metrics (README "Observability"): the API's /metrics and each worker's port."""

    enabled: bool = True
    # /metrics on the API port answers only these client addresses or networks (CIDR); anyone
    # else gets 404, as if it did not exist. Loopback by default: the API port is public.
    allowlist: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    # A scraper elsewhere (Prometheus in docker-compose.yml) sends `Authorization: Bearer
    # <token>` instead; at least 32 characters when set.
    token: SecretStr | None = Field(default=None, min_length=32)
    # Each worker serves the Temporal SDK's metrics and houtai's activity outcomes on
    # worker_host:worker_port (its own process; 0 = no metrics port).
    worker_host: str = "127.0.0.1"
    # Under `houtai up --workers N` worker i (0-based) listens on worker_port + i.
    worker_port: int = Field(default=9464, ge=0, le=65535)
    # Where the API's uvicorn processes keep their counts when there are several
    # (prometheus_client multiprocess mode); `houtai up` sets and empties it under the data dir.
    multiproc_dir: Path | None = None


class TracingSettings(BaseModel):
    """OpenTelemetry tracing (core/tracing.py): off unless an exporter is chosen."""

    exporter: Literal["off", "otlp", "console"] = "off"
    # OTLP over HTTP (protobuf): a collector's traces endpoint.
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    export_timeout_s: float = Field(default=10.0, gt=0, le=60)
    export_every_s: float = Field(default=5.0, gt=0, le=60)  # batch interval
    # Share of traces kept, decided where a trace starts (the API); workers follow it.
    sample_ratio: float = Field(default=1.0, ge=0, le=1)
    service_name: str = "houtai"  # spans say houtai-api / houtai-worker


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOUTAI_", env_nested_delimiter="__", extra="ignore"
    )

    # External servers; when unset `houtai up` starts embedded ones under data_dir.
    database_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "houtai"
    data_dir: Path = Path(".houtai")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One JSON object per log line (request id, workflow id, activity type, business number
    # included); false gives plain "LEVEL logger message" lines for reading by eye.
    log_json: bool = True
    # Worker processes `houtai up` runs (`houtai up --workers N`); each polls the same task
    # queue, so Temporal spreads workflow and activity tasks over them.
    workers: int = Field(default=1, ge=1, le=32)
    # Load demo data when the database has no users yet (`houtai up` only).
    demo_data: bool = True

    # Where providers reach our webhooks (payment callbacks, tracking pushes).
    public_url: str = "http://127.0.0.1:8000"

    api: ApiSettings = Field(default_factory=ApiSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    carrier: CarrierSettings = Field(default_factory=CarrierSettings)
    supplier: SupplierSettings = Field(default_factory=SupplierSettings)
    orders: OrderSettings = Field(default_factory=OrderSettings)
    purchasing: PurchasingSettings = Field(default_factory=PurchasingSettings)
    waves: WaveSettings = Field(default_factory=WaveSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("HOUTAI_DATABASE_URL is not set")
        return self.database_url

    def require_temporal_address(self) -> str:
        if not self.temporal_address:
            raise RuntimeError("HOUTAI_TEMPORAL_ADDRESS is not set")
        return self.temporal_address

    def require_token_secret(self) -> SecretStr:
        if self.auth.token_secret is None or len(self.auth.token_secret.get_secret_value()) < 32:
            raise RuntimeError("HOUTAI_AUTH__TOKEN_SECRET must be set (at least 32 characters)")
        return self.auth.token_secret
