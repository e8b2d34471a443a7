"""The serving image (Dockerfile), the Kubernetes manifests (deploy/) and the two-replica compose stack (monitoring/)
against the app they run: offline, without Docker or a cluster.

Manifests are validated against the Kubernetes JSON schemas that `kubernetes-validate` ships (strict: unknown fields
are refused); every environment variable set anywhere is a setting the app reads (found in `serving/settings.py`)
or one of a few read by the platform; probes name routes the app serves; the nginx config passes `nginx -t`.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelrepo.dataset import DatasetMirror
from serving import ServingSettings
from serving.access import OPEN_PATHS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MONITORING = ROOT / "monitoring"
COMPOSE = MONITORING / "docker-compose.yml"
NGINX = MONITORING / "nginx.conf"
PROMETHEUS = MONITORING / "prometheus.yml"
EXAMPLE_SECRET = DEPLOY / "secret.example.yaml"
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())  # preStop `sleep` is on from 1.30
PORT = ServingSettings().server_port

# Set for the platform, not the app, each with who reads it.
PLATFORM_VARIABLES = {
    "HOME": "the user's home: caches default under it",
    "HF_HOME": "huggingface_hub's cache folder, where a fetched model version lands",
    "HF_HUB_DISABLE_TELEMETRY": "huggingface_hub",
    "MPLCONFIGDIR": "matplotlib's config and font cache (Gradio imports matplotlib); by default under HOME",
    "GRADIO_ANALYTICS_ENABLED": "Gradio itself (the app reads only GRADIO_SERVER_NAME and GRADIO_SERVER_PORT)",
    "PYTHONDONTWRITEBYTECODE": "Python: no .pyc files, the code is read-only",
    "PYTHONUNBUFFERED": "Python: log lines reach `docker logs` at once",
    "PIP_NO_CACHE_DIR": "pip, at build time",
    "PIP_DISABLE_PIP_VERSION_CHECK": "pip, at build time",
}
READ_BY_GRADIO = {name for name in PLATFORM_VARIABLES if name.startswith("GRADIO_")}
# What serving needs at run time: the Space ships the same (DESIGN.md).
SERVING_FILES = {"requirements.txt", "app.py", "serving", "modelrepo"}


# --- what the app reads --------------------------------------------------------------------------------------


def app_settings() -> set[str]:
    """Names `serving/settings.py` reads: `env.get("NAME")` and helper calls such as `_integer(env, "NAME", ...)`."""
    tree = ast.parse((ROOT / "serving" / "settings.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func, args = node.func, node.args
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_env(func.value):
            name = args[0]
        elif isinstance(func, ast.Name) and len(args) >= 2 and _is_env(args[0]):
            name = args[1]
        else:
            continue
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            names.add(name.value)
    return names


def _is_env(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "env"


def test_the_settings_parser_finds_one_variable_per_setting() -> None:
    names = app_settings()
    # Every field of ServingSettings comes from one variable: a read written another way would be missed here.
    assert len(names) == len(ServingSettings.__dataclass_fields__), sorted(names)
    assert {"MODEL_REPO", "MODEL_REVISION", "MODEL_REGISTRY", "HF_TOKEN", "API_TOKEN", "PREDICTION_LOG_DIR"} <= names
    assert {"GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "MAX_BATCH_ROWS", "DRIFT_WINDOW"} <= names


def test_the_gradio_variables_set_for_the_platform_are_read_by_gradio() -> None:
    spec = find_spec("gradio")  # its source, without the seconds `import gradio` takes
    assert spec is not None and spec.origin is not None
    source = "\n".join(path.read_text(encoding="utf-8") for path in Path(spec.origin).parent.glob("*.py"))
    assert READ_BY_GRADIO and all(f'"{name}"' in source for name in READ_BY_GRADIO)
    assert not READ_BY_GRADIO & app_settings()


def app_routes() -> set[str]:
    """Paths of the routes `serving/rest.py` declares on the app itself (`@app.get("/health/ready", ...)`)."""
    tree = ast.parse((ROOT / "serving" / "rest.py").read_text(encoding="utf-8"))
    return {
        decorator.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and isinstance(decorator.func.value, ast.Name)
        and decorator.func.value.id == "app"
        and decorator.args
        and isinstance(decorator.args[0], ast.Constant)
    }


# --- Kubernetes ----------------------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(path for path in DEPLOY.glob("*.yaml") if path.name != "kustomization.yaml")


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in manifest_files():
        for index, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if document is not None:
                yield f"{path.name}#{index}", document


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for _, document in documents():
        assert document["kind"] not in found, f"two {document['kind']} manifests"
        found[document["kind"]] = document
    assert set(found) == {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret"}
    return found


@pytest.fixture(scope="module")
def pod(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = resources["Deployment"]["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (app,) = pod["containers"]
    return dict(app)


def refusals(document: dict[str, Any]) -> list[str]:
    """Why the Kubernetes schemas (strict) or the cross-checks below refuse a manifest; empty when it is valid."""
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"Kubernetes {version}: {error.message} at {'.'.join(map(str, error.path))}")
    if document.get("kind") == "Deployment":
        problems += probe_problems(document)
    return problems


def probe_problems(deployment: dict[str, Any]) -> list[str]:
    """Probes must name a declared container port and a route the app serves without a token."""
    problems = []
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(kind, {}).get("httpGet")
            if probe is None:
                continue
            port = probe["port"]
            if isinstance(port, str) and port not in ports:
                problems.append(f"{kind} names the port {port!r}; the container declares {sorted(map(str, ports))}")
            if probe["path"] not in app_routes() or probe["path"] not in OPEN_PATHS:
                problems.append(f"{kind} asks {probe['path']}, not a health route the app serves without a token")
    return problems


@pytest.mark.parametrize("name", [name for name, _ in documents()])
def test_every_manifest_is_valid_for_kubernetes(name: str) -> None:
    document = dict(documents())[name]
    assert refusals(document) == []


def _broken(deployment: dict[str, Any], change: str) -> dict[str, Any]:
    broken = copy.deepcopy(deployment)
    spec = broken["spec"]
    app = spec["template"]["spec"]["containers"][0]
    if change == "no selector":
        del spec["selector"]
    elif change == "replicas as text":
        spec["replicas"] = "two"
    elif change == "misspelt field":
        app["readinesProbe"] = app.pop("readinessProbe")
    elif change == "unknown port name":
        app["readinessProbe"]["httpGet"]["port"] = "web"
    elif change == "route the app does not serve":
        app["livenessProbe"]["httpGet"]["path"] = "/healthz"
    return broken


@pytest.mark.parametrize(
    "change", ["no selector", "replicas as text", "misspelt field", "unknown port name", "route the app does not serve"]
)
def test_a_broken_deployment_is_refused(resources: dict[str, dict[str, Any]], change: str) -> None:
    assert refusals(_broken(resources["Deployment"], change)), change


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files() if p != EXAMPLE_SECRET)
    kubectl = shutil.which("kubectl")
    if kubectl:  # renders offline: no cluster needed
        rendered = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=30)
        assert rendered.returncode == 0, rendered.stderr
        kinds = [document["kind"] for document in yaml.safe_load_all(rendered.stdout)]
        assert sorted(kinds) == ["Deployment", "HorizontalPodAutoscaler", "Service"]


def test_the_example_secret_holds_no_value_and_names_what_the_deployment_reads(
    resources: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    secret = resources["Secret"]
    assert "EXAMPLE" in EXAMPLE_SECRET.read_text(encoding="utf-8").splitlines()[0]
    assert "data" not in secret and all(re.fullmatch(r"<[^<>]+>", value) for value in secret["stringData"].values())
    references = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"] if "valueFrom" in item}
    assert set(references) == {"API_TOKEN", "HF_TOKEN"}
    for name, reference in references.items():
        assert reference["name"] == secret["metadata"]["name"] and reference["key"] in secret["stringData"], name
    assert not {"API_TOKEN", "HF_TOKEN"} & {item["name"] for item in container["env"] if "value" in item}


def test_the_deployment_runs_the_app_as_it_expects(pod: dict[str, Any], container: dict[str, Any]) -> None:
    (port,) = container["ports"]
    assert port["containerPort"] == PORT
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0" and int(env.get("GRADIO_SERVER_PORT", PORT)) == PORT
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/health/ready" and probes["livenessProbe"]["path"] == "/health/live"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "a start took 42 s on a busy machine"

    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 1000
    assert container["securityContext"]["readOnlyRootFilesystem"]
    mounted = [PurePosixPath(mount["mountPath"]) for mount in container["volumeMounts"]]
    for folder in ("/tmp", env["PREDICTION_LOG_DIR"], env["HF_HOME"], env["MPLCONFIGDIR"]):
        assert any(PurePosixPath(folder).is_relative_to(mount) for mount in mounted), f"{folder} is not writable"

    # SIGTERM to exit: preStop, then the log writer (up to 10 s) and the last push to a Hub dataset (up to 30 s).
    push = inspect.signature(DatasetMirror.close).parameters["timeout"].default
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + 10 + push

    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert _mebibytes(requests["memory"]) >= 466 * 10**6 / 2**20, "the measured peak (README)"
    assert _mebibytes(limits["memory"]) >= 2 * _mebibytes(requests["memory"]) - 1 and requests["cpu"]


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"{quantity}: write memory in Mi or Gi"
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def test_service_and_autoscaler_point_at_the_deployment(resources: dict[str, dict[str, Any]]) -> None:
    deployment, service, hpa = (resources[kind] for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items() and service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    container_ports = {
        p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert port["port"] == 80 and container_ports[port["targetPort"]] == PORT
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"] == 2 and hpa["spec"]["maxReplicas"] > 2
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"


# --- the Dockerfile ------------------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined and comments dropped."""
    lines, joined = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        joined += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            lines.append(joined.strip())
            joined = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerfile_env(path: Path) -> dict[str, str]:
    env = {}
    for keyword, arguments in instructions(path):
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_the_image_serves_the_app_as_uid_1000_on_its_port() -> None:
    steps = instructions(DOCKERFILE)
    last = {keyword: arguments for keyword, arguments in steps}  # Docker uses the last of each
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", last["FROM"]), "a slim Python 3.11 base, pinned by tag"
    assert last["USER"].split(":")[0] == "1000"
    assert last["EXPOSE"].split() == [str(PORT)]
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(last["ENTRYPOINT"])[0].endswith("tini")  # PID 1 forwards SIGTERM even during the start
    assert json.loads(last["CMD"]) == ["python", "app.py"]  # exec form: the app itself receives the signal
    healthcheck = last["HEALTHCHECK"]
    assert "/health/ready" in healthcheck and "urllib.request" in healthcheck
    command = json.loads(healthcheck.split(" CMD ", 1)[1])  # exec form, after the options
    port = re.search(r"GRADIO_SERVER_PORT', '(\d+)'", command[-1])
    assert command[:2] == ["python", "-c"] and port and int(port.group(1)) == PORT  # follows GRADIO_SERVER_PORT
    assert "curl" not in healthcheck and "wget" not in healthcheck  # neither is in the slim image
    env = dockerfile_env(DOCKERFILE)
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0" and int(env["GRADIO_SERVER_PORT"]) == PORT
    assert "MODEL_REPO" not in env and "MODEL_REGISTRY" not in env  # no model chosen (or baked in) at build time


def test_the_image_copies_what_serving_imports_and_nothing_else() -> None:
    copied = {
        source.rstrip("/")
        for keyword, arguments in instructions(DOCKERFILE)
        if keyword == "COPY"
        for source in shlex.split(arguments)[:-1]
        if not source.startswith("--")
    }
    assert copied == SERVING_FILES
    installs = [
        arguments for keyword, arguments in instructions(DOCKERFILE) if keyword == "RUN" and "pip " in arguments
    ]
    assert installs == ["pip install -r requirements.txt"]
    first_party = {path.stem for path in ROOT.iterdir() if (path / "__init__.py").is_file() or path.suffix == ".py"}
    imported = set()
    for path in [ROOT / "app.py", *(ROOT / "serving").rglob("*.py"), *(ROOT / "modelrepo").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported & first_party <= copied, "serving imports code the image does not copy"
    assert not imported & {"training", "tests", "benchmarks"}


def test_dockerignore_keeps_local_state_out_and_the_served_code_in() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip()[:1] not in "#"
    ]
    assert {"registry", "logs", ".venv", "tests", ".git", "**/__pycache__"} <= set(patterns)
    assert not {pattern.rstrip("/") for pattern in patterns} & SERVING_FILES
    assert not any(pattern.startswith("!") for pattern in patterns)


def test_every_variable_set_is_one_the_app_or_the_platform_reads(container: dict[str, Any]) -> None:
    known = app_settings() | set(PLATFORM_VARIABLES)
    set_by = {
        "deploy/deployment.yaml": {item["name"] for item in container["env"]},
        "Dockerfile": set(dockerfile_env(DOCKERFILE)),
        "monitoring/Dockerfile": set(dockerfile_env(MONITORING / "Dockerfile")),
        **{
            f"monitoring/docker-compose.yml: {name}": set(_environment(service))
            for name, service in compose_services().items()
            if service.get("image") == compose_services()["app"]["image"]
        },
    }
    unknown = {where: sorted(names - known) for where, names in set_by.items() if names - known}
    assert not unknown, f"not a setting of the app (serving/settings.py) nor listed in PLATFORM_VARIABLES: {unknown}"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return dict(environment)


# --- the compose stack: two replicas behind nginx ------------------------------------------------------------


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return services


def replicas() -> list[str]:
    services = compose_services()
    return [name for name, service in services.items() if service.get("image") == services["app"]["image"]]


def nginx_upstream() -> list[str]:
    text = re.sub(r"#[^\n]*", "", NGINX.read_text(encoding="utf-8"))
    (block,) = re.findall(r"upstream\s+\w+\s*\{([^}]*)\}", text)
    return re.findall(r"^\s*server\s+(\S+?)[\s;]", block, flags=re.M)


def test_two_replicas_sharing_one_log_folder_behind_the_proxy() -> None:
    services = compose_services()
    names = replicas()
    assert len(names) == 2 and [name for name in names if "build" in services[name]] == ["app"]
    logs = []
    for name in names:
        folder = _environment(services[name]).get("PREDICTION_LOG_DIR", "/app/logs")
        (volume,) = [v.split(":")[0] for v in services[name]["volumes"] if v.split(":")[1] == folder]
        logs.append(volume)
        assert "ports" not in services[name], f"{name} is reached through the proxy"
    # One folder: each replica writes its own files, and the shared request index lets either accept feedback for
    # a prediction the other made (serving/recorder.py).
    assert len(set(logs)) == 1, "replicas with separate log folders would refuse each other's feedback"

    assert nginx_upstream() == [f"{name}:{PORT}" for name in names]
    prometheus = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = (job for job in prometheus["scrape_configs"] if job["job_name"] == "house-price")
    assert [target for config in job["static_configs"] for target in config["targets"]] == nginx_upstream()

    proxy = services["proxy"]
    assert f"./{NGINX.name}:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    listen = re.search(r"^\s*listen\s+(\d+)", NGINX.read_text(encoding="utf-8"), flags=re.M)
    assert listen and proxy["ports"] == [f"127.0.0.1:{PORT}:{listen.group(1)}"]
    assert set(names) <= set(proxy["depends_on"])


def test_the_proxy_streams_and_keeps_a_client_on_one_replica() -> None:
    text = re.sub(r"#[^\n]*", "", NGINX.read_text(encoding="utf-8"))
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_buffering off;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "hash $replica_key consistent;",
    ):
        assert directive in text, directive


def nginx_test(config: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a copy whose upstream names resolve (127.0.0.1) and whose logs go to `folder`."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)")
    local = re.sub(r"^(\s*server\s+)[\w.-]+:", r"\g<1>127.0.0.1:", config, flags=re.M)
    local = local.replace("/dev/stderr", str(folder / "error.log")).replace("/dev/stdout", str(folder / "access.log"))
    (folder / "nginx.conf").write_text(local, encoding="utf-8")
    command = [nginx, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    return subprocess.run([*command, "-g", f"pid {folder / 'nginx.pid'};"], capture_output=True, text=True, timeout=30)


def test_the_nginx_config_parses(tmp_path: Path) -> None:
    result = nginx_test(NGINX.read_text(encoding="utf-8"), tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_refuses_a_broken_config(tmp_path: Path) -> None:
    broken = NGINX.read_text(encoding="utf-8").replace("proxy_pass http://house_price;", "proxy_pass http://nowhere")
    result = nginx_test(broken, tmp_path)
    assert result.returncode != 0 and "nginx.conf" in result.stderr
