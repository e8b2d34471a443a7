"""The monitoring stack in `monitoring/` against the real app: every series the Grafana dashboard and the alerting
rules query is one the app exports, and the Prometheus, Grafana and compose files point at each other.

Docker is not needed: the app is built in this process and its `/metrics` read through Starlette's TestClient;
the configuration files are parsed and cross-checked.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from modelrepo import LocalStore
from serving import ServingSettings, build_app
from serving.drift import DRIFT_THRESHOLD, WATCH_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboard.json"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = MONITORING / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
PROMETHEUS = MONITORING / "prometheus.yml"
ALERTS = MONITORING / "alerts.yml"
COMPOSE = MONITORING / "docker-compose.yml"
JOB = "house-price"
PROMETHEUS_SERIES = {"up"}  # written by Prometheus itself for every target: alerts may use it, the dashboard not
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


# --- the app's exposition ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Series names the real app exports after one prediction, by metric family (`_created` series left out)."""
    workdir = tmp_path_factory.mktemp("monitoring")
    with pytest.MonkeyPatch.context() as env:  # module scope: the per-test isolation fixture has not run yet
        env.setenv("HF_HOME", str(workdir / "hf-home"))
        env.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        settings = ServingSettings.from_env(
            {"MODEL_REGISTRY": str(registry.root), "PREDICTION_LOG_DIR": str(workdir / "logs")}
        )
        serving = build_app(settings)
        try:
            with TestClient(serving.app) as client:
                assert client.post("/api/v1/predict", json={}).status_code == 200  # histograms get samples
                response = client.get("/metrics")
        finally:
            serving.close()
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    return {
        name: {name + suffix for suffix in SUFFIXES.get(family.type, ("",))} | {s.name for s in family.samples}
        for name, family in families.items()
        if not (name.endswith("_created") and name.removesuffix("_created") in families)
    }


@pytest.fixture(scope="module")
def series(exported: dict[str, set[str]]) -> set[str]:
    return set().union(*exported.values())


# --- PromQL: the metric names an expression selects ----------------------------------------------------------

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_COMMENTS = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
_TOKENS = re.compile(r"\d[\w.]*|([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
}


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects: identifiers that are not functions, keywords, labels or numbers."""
    text = _STRINGS.sub('""', expr)
    for pattern in (_COMMENTS, _MATCHERS, _RANGES, _GROUPING, _VARIABLES):
        text = pattern.sub(" ", text)
    names = set()
    for match in _TOKENS.finditer(text):
        name, call = match.groups()
        if name and not call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def test_metric_names_skips_functions_labels_and_variables() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (surface, le) (rate(a_bucket{outcome!="ok", x="{b}"}[$__rate_interval]))) '
        "/ on(instance) group_left(version) b_info offset 5m > bool 1e3 and topk(10, c >= 0) # d"
    )
    assert metric_names(expr) == {"a_bucket", "b_info", "c"}


# --- the dashboard -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_dashboard_is_a_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 39
    every = list(panels(dashboard["panels"]))
    assert len({panel["id"] for panel in every}) == len(every), "panel ids must be unique"
    for panel in every:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(set(refs)) == len(refs), panel["title"]
        assert panel["type"] == "row" or refs, f"panel {panel['title']!r} has no query"


def recorded(rules: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Series that Prometheus records from the app's (monitoring/alerts.yml), with the series each one reads."""
    return {rule["record"]: metric_names(rule["expr"]) for rule in rules if "record" in rule}


def test_every_dashboard_query_selects_series_the_app_exports(
    dashboard: dict[str, Any], series: set[str], rules: list[dict[str, Any]]
) -> None:
    unknown = {}
    for title, expr in queries(dashboard):
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        if names - series - set(recorded(rules)):
            unknown[title] = sorted(names - series - set(recorded(rules)))
    assert not unknown, f"the app does not export these series: {unknown}"


def test_every_app_metric_is_on_the_dashboard(
    dashboard: dict[str, Any], exported: dict[str, set[str]], rules: list[dict[str, Any]]
) -> None:
    used = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    records = recorded(rules)
    for _ in records:  # a recorded series on a panel uses what its rule reads (rules may read other records)
        used |= set().union(set(), *(reads for name, reads in records.items() if name in used))
    missing = sorted(name for name, names in exported.items() if name.startswith("house_price_") and not names & used)
    assert not missing, f"exported but on no panel (keep serving/telemetry.py and the dashboard in step): {missing}"


def test_drift_panels_colour_the_apps_thresholds(dashboard: dict[str, Any]) -> None:
    drift = [
        panel
        for panel in panels(dashboard["panels"])
        if any("house_price_drift_psi" in target["expr"] for target in panel.get("targets", []))
    ]
    assert len(drift) >= 2
    for panel in drift:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [step["value"] for step in steps] == [None, WATCH_THRESHOLD, DRIFT_THRESHOLD], panel["title"]
    assert any("topk(10," in target["expr"] for panel in drift for target in panel["targets"])


def test_panels_use_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert [source["type"] for source in provisioned] == ["prometheus"]
    expected = {"type": "prometheus", "uid": provisioned[0]["uid"]}
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == expected, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", expected) == expected, panel["title"]
    assert provisioned[0]["url"] == "http://prometheus:9090"


# --- Prometheus ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    return yaml.safe_load(PROMETHEUS.read_text())


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_scrapes_the_app_and_loads_the_alerts(prometheus: dict[str, Any]) -> None:
    assert prometheus["global"]["scrape_interval"] == "15s"
    assert [(PROMETHEUS.parent / path).resolve() for path in prometheus["rule_files"]] == [ALERTS]
    (job,) = (job for job in prometheus["scrape_configs"] if job["job_name"] == JOB)
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for config in job["static_configs"] for target in config["targets"]]
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    replicas = [name for name, service in services.items() if service.get("image") == services["app"]["image"]]
    assert len(replicas) >= 2 and targets == [f"{name}:{ServingSettings().server_port}" for name in replicas]


def test_alert_rules_query_series_the_app_exports(rules: list[dict[str, Any]], series: set[str]) -> None:
    alerts = [rule for rule in rules if "alert" in rule]
    names = {rule["alert"] for rule in alerts}
    assert {"HousePriceAppDown", "HousePriceHighErrorRatio", "HousePriceDrift", "HousePriceLogWriteFailures"} <= names
    known = series | PROMETHEUS_SERIES | set(recorded(rules))
    for rule in rules:
        name = rule.get("alert") or rule["record"]
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"warning", "critical"} and rule["annotations"]["summary"], name
        used = metric_names(rule["expr"])
        assert used and used <= known, f"{name}: {sorted(used - known)}"
        assert set(re.findall(r'\bjob="([^"]*)"', rule["expr"])) <= {JOB}, name
    assert "HousePriceFleetDrift" in names and "house_price:drift_psi:fleet" in recorded(rules)
    (drift,) = (rule for rule in alerts if rule["alert"] == "HousePriceDrift")
    assert drift["expr"] == f"house_price_drift_psi > {DRIFT_THRESHOLD}" and drift["for"] == "30m"


# --- docker compose ------------------------------------------------------------------------------------------


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a compose service's bind mounts (named volumes left out)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts[volume["target"]] = (COMPOSE.parent / volume["source"]).resolve()
            continue
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            mounts[target] = (COMPOSE.parent / source).resolve()
    return mounts


def test_compose_builds_the_app_and_mounts_the_configuration(prometheus: dict[str, Any]) -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) >= {"app", "prometheus", "grafana"}
    app = services["app"]
    assert (COMPOSE.parent / app["build"]["context"]).resolve() == ROOT
    assert (ROOT / app["build"]["dockerfile"]).is_file()
    assert app["environment"]["GRADIO_SERVER_NAME"] == "0.0.0.0"
    assert int(app["environment"].get("GRADIO_SERVER_PORT", 7860)) == ServingSettings().server_port

    mounted = bind_mounts(services["prometheus"])
    assert all(path.exists() for path in mounted.values())
    (config,) = (target for target, source in mounted.items() if source == PROMETHEUS)
    for rule_file in prometheus["rule_files"]:  # resolved next to the config file inside the container too
        assert mounted[posixpath.join(posixpath.dirname(config), rule_file)] == ALERTS

    mounted = bind_mounts(services["grafana"])
    assert all(path.exists() for path in mounted.values())
    assert mounted["/etc/grafana/provisioning/datasources"] == DATASOURCES.parent
    assert mounted["/etc/grafana/provisioning/dashboards"] == DASHBOARD_PROVIDERS.parent
    (provider,) = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"]
    folder = provider["options"]["path"].rstrip("/")
    assert any(target.startswith(folder + "/") and source == DASHBOARD for target, source in mounted.items())
