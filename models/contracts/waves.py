"""Payloads of wave picking (DESIGN §6.4): the planner, WaveWorkflow and what a wave tells a
package's ShipmentWorkflow."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from models.contracts.order import Actor, PackageLine


class OutboundRequest(BaseModel):
    """A package released to its warehouse: from now on it waits for a wave."""

    order_no: str
    package_no: str
    warehouse_id: int
    carrier_code: str
    released_at: datetime


class WaveRules(BaseModel):
    max_orders: int = 50
    max_lines: int = 200
    max_units: int = 500
    lead_time: timedelta = timedelta(hours=1)
    urgency_margin: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(minutes=45)
    sla_margin: timedelta = timedelta(minutes=30)
    task_max_stops: int = 20
    task_max_units: int = 60


class PlannerInput(BaseModel):
    """A planning run for one warehouse (the Schedule's or staff's "plan now")."""

    warehouse_id: int
    rules: WaveRules = Field(default_factory=WaveRules)
    release_all: bool = False  # staff "plan now": release every wave, full or not


class PlanRequest(BaseModel):
    warehouse_id: int
    release_all: bool = False
    plan_key: str  # the planning run: a retried activity returns the waves it made
    now: datetime
    rules: WaveRules = Field(default_factory=WaveRules)


class PlannedWaveRef(BaseModel):
    wave_no: str
    warehouse_id: int
    cutoff_at: datetime
    orders: int


class PlanResult(BaseModel):
    waves: list[PlannedWaveRef]
    held: int  # candidates left for a later run (their wave is neither full, urgent nor old)
    flagged: int


class WaveInput(BaseModel):
    wave_no: str
    warehouse_id: int
    cutoff_at: datetime
    rules: WaveRules = Field(default_factory=WaveRules)
    # Carried over continue-as-new: the wave was built and these packages were told already.
    built: bool = False
    escalated: bool = False
    told: list[str] = Field(default_factory=list)
    history_limit: int = 5_000


class PackagePicked(BaseModel):
    """What a wave tells a package: its units are picked (and sorted); `missing` were not found
    in the warehouse and are no longer reserved for it."""

    package_no: str
    wave_no: str
    picked: list[PackageLine]
    missing: list[PackageLine] = Field(default_factory=list)
    missing_weight_g: int = 0
    # The device and the worker signed in on it that picked the package's last units, as the
    # timeline names who acted (None: no device scan picked it; the step names the system).
    picked_by: Actor | None = None


class WaveProgress(BaseModel):
    """The settle activity's answer: packages ready now, and whether the wave is finished."""

    ready: list[PackagePicked]
    open_tasks: int
    open_packages: int

    @property
    def finished(self) -> bool:
        return self.open_tasks == 0 and self.open_packages == 0


class PackageShort(BaseModel):
    """A package tells its order: these units were not found; the order's policy decides."""

    package_no: str
    warehouse_id: int
    missing: list[PackageLine]


class PicksCancelled(BaseModel):
    wave_no: str | None
    returned_units: int  # picked units put back to their location (no longer held)


class BuildRequest(BaseModel):
    wave_no: str
    now: datetime  # its date in the warehouse's zone: batches expired before it are not picked
    max_stops: int
    max_units: int


class Escalation(BaseModel):
    wave_no: str
    reason: str


class Finish(BaseModel):
    wave_no: str
    at: datetime
