"""Debian's nginx in front of several app processes on loopback: replicas behind one address, as a test runs them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.live import free_port

NGINX = Path(os.environ.get("NGINX_PATH", "/usr/sbin/nginx"))

_CONFIG = """
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 8m;
    upstream replicas {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    url: str
    folder: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def errors(self) -> str:
        log = self.folder / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""


def start_proxy(upstreams: Sequence[str], *, folder: Path, timeout: float = 15) -> Proxy:
    """nginx (round robin) on a free loopback port in front of `upstreams` (``http://127.0.0.1:PORT`` each)."""
    if not NGINX.is_file():
        raise RuntimeError(f"no nginx at {NGINX}: `apt-get install nginx` or set NGINX_PATH")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(f"        server {url.removeprefix('http://')};" for url in upstreams)
    config = folder / "nginx.conf"
    config.write_text(_CONFIG.format(folder=folder, servers=servers, port=port))
    process = subprocess.Popen(
        [str(NGINX), "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proxy = Proxy(process, f"http://127.0.0.1:{port}", folder)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {proxy.errors()}")
        try:
            if httpx.get(f"{proxy.url}/health/live", timeout=2).status_code == 200:
                return proxy
        except httpx.HTTPError:
            time.sleep(0.2)
    proxy.stop()
    raise RuntimeError(f"nginx at {proxy.url} did not answer: {proxy.errors()}")
