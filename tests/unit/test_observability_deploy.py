"""Prometheus and Grafana in docker-compose.yml agree with what houtai serves and provisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        found[target] = source
    return found


def test_prometheus_scrapes_the_api_with_the_token_and_every_worker_on_its_port() -> None:
    services = compose()["services"]
    env = compose()["x-houtai"]["environment"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["houtai-api"]
    assert api["static_configs"][0]["targets"] == [f"api:{env['HOUTAI_API__PORT']}"]
    token_file = api["authorization"]["credentials_file"]
    prometheus = services["prometheus"]
    assert {"source": "metrics-token", "target": token_file} in prometheus["configs"]
    assert "HOUTAI_METRICS_TOKEN" in compose()["configs"]["metrics-token"]["content"]
    assert "HOUTAI_METRICS_TOKEN" in env["HOUTAI_METRICS__TOKEN"]
    worker = jobs["houtai-worker"]["dns_sd_configs"][0]
    assert worker["names"] == ["worker"]
    assert str(worker["port"]) == env["HOUTAI_METRICS__WORKER_PORT"]
    assert env["HOUTAI_METRICS__WORKER_HOST"] == "0.0.0.0"  # noqa: S104 - compose network only
    assert (
        mounts(prometheus)["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    )
    for name in ("prometheus", "grafana"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name


def test_grafana_provisions_the_datasource_the_dashboards_use() -> None:
    grafana = compose()["services"]["grafana"]
    provisioning = mounts(grafana)
    assert provisioning["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    assert [s["url"] for s in sources] == ["http://prometheus:9090"]
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/houtai.yml").read_text())[
        "providers"
    ]
    path = providers[0]["options"]["path"]
    assert provisioning[path] == "./deploy/grafana/dashboards"
    uids = {s["uid"] for s in sources}
    dashboards = list((DEPLOY / "grafana/dashboards").glob("*.json"))
    assert dashboards
    for file in dashboards:
        board = json.loads(file.read_text())
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids
