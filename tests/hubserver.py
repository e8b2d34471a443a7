"""A loopback Hugging Face Hub for tests, spoken to by the real `huggingface_hub` client.

Point the client at it with `HF_ENDPOINT=hub.endpoint` (set before `huggingface_hub` is imported). It keeps
model, dataset and Space repositories in memory as git-like histories: every commit is an immutable snapshot
(path -> bytes) with a sha and a parent; branches and tags name commits. Files are always "regular" git blobs
(no LFS, no Xet), which the client accepts for any size a test needs.

Auth is off until the first `add_token`: then a request needs `Authorization: Bearer <token>` of a known token
to see private repos, and a token with write access to change anything (401 without one, 403 read-only).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_GITATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
_BAD_TOKEN = "Invalid credentials in Authorization header"  # the exact text the client looks for
_RUNTIME = {"stage": "RUNNING", "hardware": {"current": "cpu-basic", "requested": "cpu-basic"}}

Json = Any  # a JSON-serializable value


def git_blob_sha(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's `oid` and `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _front_matter(text: str) -> dict[str, Any]:
    """The YAML metadata block of a README.md (empty when there is none; raises yaml.YAMLError if broken)."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    data = yaml.safe_load(text[3:end]) if end != -1 else None
    return data if isinstance(data, dict) else {}


class HubError(Exception):
    """An HTTP error answer; `code` goes into `X-Error-Code`, which picks the client's exception class."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Json,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra
        self.headers = {"X-Error-Message": message, **(headers or {})}
        if code:
            self.headers["X-Error-Code"] = code


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None
    files: MappingProxyType[str, bytes]
    title: str
    message: str
    author: str
    date: str


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    created_at: str
    sdk: str | None = None
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, Json]] = field(default_factory=dict)
    restarts: int = 0

    def resolve(self, revision: str) -> Commit:
        """A branch, a tag (also as `refs/heads/...`, `refs/tags/...`) or a full commit sha."""
        name = revision.removeprefix("refs/heads/").removeprefix("refs/tags/")
        sha = self.branches.get(name) or self.tags.get(name)
        sha = sha or (revision if revision in self.commits else None)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[sha]


@dataclass(frozen=True)
class _Caller:
    user: str
    write: bool


_OPEN = _Caller("user", write=True)  # who every request is while no token has been added


class HubServer:
    """In-memory Hub on a free loopback port, served from a background thread."""

    def __init__(self) -> None:
        self._repos: dict[tuple[str, str], Repo] = {}
        self._tokens: dict[str, _Caller] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._port = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._offline = False
        self._refusal: int | None = None

    # -- public API -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if not self._port:
            raise RuntimeError("HubServer is not started: call start() first")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> Self:
        self._listen()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_token(self, token: str, user: str, *, write: bool = True) -> None:
        """Accept `token` as `user`. The first token turns auth on: requests without one become anonymous."""
        with self._lock:
            self._tokens[token] = _Caller(user, write)

    def set_offline(self, offline: bool) -> None:
        """Offline: stop listening on the port (connections are refused), like an unreachable Hub."""
        if offline == self._offline:
            return
        self._offline = offline
        if offline:
            self.stop()
        else:
            self._listen()

    def refuse_repo_requests(self, status: int | None) -> None:
        """Answer every request about a repo (not whoami) with 401 or 403, as the Hub does for a token it no
        longer accepts or one without access; None to stop."""
        self._refusal = status

    def replace_file(self, repo_id: str, path: str, content: bytes, *, branch: str, repo_type: str = "model") -> str:
        """Commit one changed file on a branch, directly (a damaged or hand-edited file); returns the commit."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            files = {**repo.resolve(branch).files, path: content}
            return self._commit(repo, branch, files, f"Replace {path}", "", "test")

    def files(self, repo_id: str, *, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The files of a repo at a revision, read directly (no HTTP, no auth)."""
        with self._lock:
            return dict(self._repos[(repo_type, repo_id)].resolve(revision).files)

    def history(self, repo_id: str, *, repo_type: str = "model", revision: str = "main") -> list[str]:
        """Commit titles from `revision` back to the repo's first commit (no HTTP, no auth)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return [item["title"] for item in self._history(repo, repo.resolve(revision))]

    def space_variables(self, repo_id: str) -> dict[str, str]:
        """The variables a deploy set on a Space (key -> value)."""
        with self._lock:
            return {k: v["value"] for k, v in self._repos[("space", repo_id)].variables.items()}

    def space_restarts(self, repo_id: str) -> int:
        """How many times `restart_space` was called for a Space."""
        with self._lock:
            return self._repos[("space", repo_id)].restarts

    # -- plumbing ---------------------------------------------------------------------------------------

    def _listen(self) -> None:
        self._httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.hub = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hubserver", daemon=True
        )
        self._thread.start()

    def _caller(self, authorization: str | None) -> _Caller | None:
        if not self._tokens:
            return _OPEN
        if not authorization:
            return None
        caller = self._tokens.get(authorization.removeprefix("Bearer ").strip())
        if caller is None:
            raise HubError(401, _BAD_TOKEN)
        return caller

    @staticmethod
    def _require_write(caller: _Caller | None) -> _Caller:
        if caller is None:
            raise HubError(401, "You must be authenticated to write")
        if not caller.write:
            raise HubError(403, "You don't have the rights to write with this token (read-only)")
        return caller

    def _repo(self, repo_type: str, repo_id: str, caller: _Caller | None) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and caller is None):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _url(self, repo: Repo) -> str:
        return f"{self.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    def _commit(self, repo: Repo, branch: str, files: dict[str, bytes], title: str, message: str, user: str) -> str:
        parent = repo.branches.get(branch)
        digest = hashlib.sha1(f"{parent}\n{title}\n{message}\n{next(self._counter)}".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha(files[path])}\n".encode())
        snapshot = MappingProxyType(dict(files))
        commit = Commit(digest.hexdigest(), parent, snapshot, title, message, user, _now())
        repo.commits[commit.sha] = commit
        repo.branches[branch] = commit.sha
        return commit.sha

    # -- routes -----------------------------------------------------------------------------------------

    def _handle(
        self, method: str, segs: list[str], query: dict[str, list[str]], body: bytes, authorization: str | None
    ) -> tuple[int, Json | bytes, dict[str, str]]:
        """Answer one request: (status, JSON value or raw bytes, extra headers)."""
        with self._lock:
            caller = self._caller(authorization)
            if segs[:1] != ["api"]:
                if self._refusal is not None:
                    raise HubError(self._refusal, "Invalid credentials" if self._refusal == 401 else "Access denied")
                return self._resolve(method, segs, caller)
            route = segs[1:]
            if route == ["whoami-v2"]:
                return 200, self._whoami(caller), {}
            if route == ["validate-yaml"]:
                return self._validate_yaml(json.loads(body or b"{}"))
            if route == ["repos", "create"] and method == "POST":
                return self._create_repo(json.loads(body or b"{}"), self._require_write(caller))
            if route == ["repos", "delete"] and method == "DELETE":
                payload, writer = json.loads(body or b"{}"), self._require_write(caller)
                name = f"{payload.get('organization') or writer.user}/{payload['name']}"
                repo = self._repo(payload.get("type") or "model", name, caller)
                del self._repos[(repo.repo_type, repo.repo_id)]
                return 200, {}, {}
            if len(route) >= 3 and route[0] in _TYPES:
                if self._refusal is not None:
                    raise HubError(self._refusal, "Invalid credentials" if self._refusal == 401 else "Access denied")
                repo = self._repo(_TYPES[route[0]], f"{route[1]}/{route[2]}", caller)
                return self._repo_route(method, repo, route[3:], query, body, caller)
            raise HubError(404, f"No such route: {method} /{'/'.join(segs)}")

    def _whoami(self, caller: _Caller | None) -> Json:
        if caller is None:
            raise HubError(401, _BAD_TOKEN)
        role = "write" if caller.write else "read"
        return {
            "type": "user",
            "id": caller.user,
            "name": caller.user,
            "fullname": caller.user,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}},
        }

    def _validate_yaml(self, payload: dict[str, Any]) -> tuple[int, Json, dict[str, str]]:
        try:
            _front_matter(payload.get("content", ""))
        except yaml.YAMLError as err:
            return 400, {"errors": [{"message": str(err)}], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _create_repo(self, payload: dict[str, Any], caller: _Caller) -> tuple[int, Json, dict[str, str]]:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or caller.user}/{payload['name']}"
        if (repo_type, repo_id) in self._repos:
            url = self._url(self._repos[(repo_type, repo_id)])
            raise HubError(409, f"You already created this {repo_type} repo", url=url)
        private = payload.get("visibility", "private" if payload.get("private") else "public") != "public"
        repo = Repo(repo_id, repo_type, private, _now(), sdk=payload.get("sdk"))
        for variable in payload.get("variables") or []:
            repo.variables[variable["key"]] = {"value": variable["value"], "updatedAt": _now()}
        self._commit(repo, "main", {".gitattributes": _GITATTRIBUTES}, "initial commit", "", caller.user)
        self._repos[(repo_type, repo_id)] = repo
        return 200, {"url": self._url(repo), "name": repo_id, "id": repo_id}, {}

    def _repo_route(
        self,
        method: str,
        repo: Repo,
        route: list[str],
        query: dict[str, list[str]],
        body: bytes,
        caller: _Caller | None,
    ) -> tuple[int, Json, dict[str, str]]:
        action, rest = (route[0], route[1:]) if route or method != "GET" else ("revision", ["main"])
        if method == "GET":
            return 200, self._read(repo, action, rest, query), {}
        writer = self._require_write(caller)
        if method == "POST" and action == "commit":
            return self._apply_commit(repo, "/".join(rest), query, body, writer)
        return 200, self._write(method, repo, action, "/".join(rest), json.loads(body) if body else {}), {}

    def _read(self, repo: Repo, action: str, rest: list[str], query: dict[str, list[str]]) -> Json:
        if action == "revision":
            return self._info(repo, repo.resolve("/".join(rest)))
        if action == "tree":
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            return self._tree(repo.resolve(rest[0]), "/".join(rest[1:]), recursive)
        if action == "commits":
            return self._history(repo, repo.resolve("/".join(rest)))
        if action == "refs":
            refs: dict[str, list[Json]] = {"converts": [], "pullRequests": []}
            for kind, names in (("branches", repo.branches), ("tags", repo.tags)):
                prefix = "refs/heads/" if kind == "branches" else "refs/tags/"
                refs[kind] = [{"name": n, "ref": prefix + n, "targetCommit": sha} for n, sha in sorted(names.items())]
            return refs
        if action == "runtime" and repo.repo_type == "space":
            return _RUNTIME
        raise HubError(404, f"No such route: GET {action}")

    def _write(self, method: str, repo: Repo, action: str, arg: str, payload: dict[str, Any]) -> Json:
        if method == "POST" and action == "preupload":
            head = repo.resolve(arg)
            files = [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha(head.files[f["path"]]) if f["path"] in head.files else None,
                }
                for f in payload.get("files", [])
            ]
            return {"files": files, "commitOid": head.sha}
        if method == "POST" and action in ("tag", "branch"):
            refs, name = (repo.tags, payload["tag"]) if action == "tag" else (repo.branches, arg)
            target = repo.resolve(arg if action == "tag" else payload.get("startingPoint") or "main")
            if name in refs:
                raise HubError(409, f"Reference {name} already exists")
            refs[name] = target.sha
            return {}
        if method == "DELETE" and action in ("tag", "branch"):
            refs = repo.tags if action == "tag" else repo.branches
            if arg not in refs:
                raise HubError(404, f"Invalid rev id: {arg}", "RevisionNotFound")
            if action == "branch" and arg == "main":
                raise HubError(403, "You cannot delete the default branch")
            del refs[arg]
            return {}
        if repo.repo_type == "space" and action == "variables":
            if method == "POST":
                repo.variables[payload["key"]] = {
                    "value": payload["value"],
                    "updatedAt": _now(),
                    "description": payload.get("description"),
                }
            else:
                repo.variables.pop(payload["key"], None)
            return repo.variables
        if repo.repo_type == "space" and action == "restart" and method == "POST":
            repo.restarts += 1
            return _RUNTIME
        raise HubError(404, f"No such route: {method} {action}")

    def _apply_commit(
        self, repo: Repo, branch: str, query: dict[str, list[str]], body: bytes, caller: _Caller
    ) -> tuple[int, Json, dict[str, str]]:
        if "create_pr" in query:
            raise HubError(400, "This test Hub has no pull requests")
        if branch not in repo.branches:
            raise HubError(404, f"No branch {branch}: commits go to a branch", "RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first NDJSON line must be the commit header")
        header = lines[0]["value"]
        head = repo.commits[repo.branches[branch]]
        if header.get("parentCommit") not in (None, head.sha):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head.files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"]
            if key == "file":
                content = value["content"]
                base64_encoded = value.get("encoding") == "base64"
                files[path] = base64.b64decode(content) if base64_encoded else content.encode()
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                prefix = path.rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(prefix)}
            else:
                raise HubError(400, f"Unsupported operation {key!r}: this test Hub takes regular files only")
        sha = self._commit(repo, branch, files, header["summary"], header.get("description", ""), caller.user)
        url = f"{self._url(repo)}/commit/{sha}"
        return 200, {"success": True, "commitOid": sha, "commitUrl": url, "pullRequestUrl": None}, {}

    def _info(self, repo: Repo, commit: Commit) -> Json:
        try:
            card = _front_matter(commit.files.get("README.md", b"").decode(errors="replace"))
        except yaml.YAMLError:
            card = {}
        tags = card.get("tags") or []
        tags = [str(t) for t in (tags if isinstance(tags, list) else [tags])]
        tags += [str(card["library_name"])] if "library_name" in card else []
        tags += [f"license:{card['license']}"] if "license" in card else []
        siblings = [
            {"rfilename": p, "size": len(data), "blobId": git_blob_sha(data)}
            for p, data in sorted(commit.files.items())
        ]
        info: dict[str, Json] = {
            "id": repo.repo_id,
            "_id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "tags": tags,
            "siblings": siblings,
            "downloads": 0,
            "likes": 0,
        }
        if card:
            info["cardData"] = card
        if repo.repo_type == "model" and "library_name" in card:
            info["library_name"] = card["library_name"]
        if repo.repo_type == "space":
            info.update(sdk=repo.sdk, runtime=_RUNTIME)
        return info

    @staticmethod
    def _tree(commit: Commit, path: str, recursive: bool) -> Json:
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries: dict[str, dict[str, Json]] = {}
        for file, data in sorted(commit.files.items()):
            if not file.startswith(prefix):
                continue
            parts = file[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                folder = prefix + "/".join(parts[:depth])
                oid = hashlib.sha1(f"{commit.sha}:{folder}".encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "oid": oid, "size": 0, "path": folder})
            if recursive or len(parts) == 1:
                entries[file] = {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": file}
        if prefix and not entries:
            raise HubError(404, f"{path} does not exist on this revision", "EntryNotFound")
        return list(entries.values())

    @staticmethod
    def _history(repo: Repo, commit: Commit | None) -> Json:
        items = []
        while commit is not None:
            text = {"title": commit.title, "message": commit.message}
            items.append(
                {"id": commit.sha, **text, "date": commit.date, "authors": [{"user": commit.author}], "formatted": text}
            )
            commit = repo.commits[commit.parent] if commit.parent else None
        return items

    def _resolve(
        self, method: str, segs: list[str], caller: _Caller | None
    ) -> tuple[int, Json | bytes, dict[str, str]]:
        """`HEAD`/`GET /{prefix}{repo}/resolve/{rev}/{path}`: what hf_hub_download reads."""
        repo_type = {"datasets": "dataset", "spaces": "space"}.get(segs[0], "model")
        if repo_type != "model":
            segs = segs[1:]
        if len(segs) < 5 or segs[2] != "resolve" or method not in ("GET", "HEAD"):
            raise HubError(404, f"No such route: {method} /{'/'.join(segs)}")
        repo = self._repo(repo_type, f"{segs[0]}/{segs[1]}", caller)
        commit = repo.resolve(segs[3])
        path = "/".join(segs[4:])
        if path not in commit.files:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit.sha})
        data = commit.files[path]
        return 200, data, {"X-Repo-Commit": commit.sha, "ETag": f'"{git_blob_sha(data)}"'}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    hub: HubServer


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0 (one request per connection), so going offline really cuts every client off."""

    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        hub, method = self.server.hub, self.command
        if hub._offline:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        # Split before unquoting, so that a revision's `%2F` stays inside its segment.
        segs = [unquote(s) for s in url.path.split("/")[1:]]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            status, value, headers = hub._handle(
                method, segs, parse_qs(url.query), body, self.headers.get("Authorization")
            )
        except HubError as err:
            status, value, headers = err.status, {"error": err.message, **err.extra}, err.headers
        except (KeyError, IndexError, ValueError) as err:  # a malformed request (or a route this Hub lacks)
            status, value, headers = 400, {"error": f"Bad request: {err!r}"}, {}
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.send_response(status)
        raw = isinstance(value, bytes)
        self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, header in headers.items():
            self.send_header(name, header)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve


#: Tokens the test fixtures register: alice may write, bob may only read.
WRITE_TOKEN, READ_TOKEN = "hf_test_write", "hf_test_read"


def client_env(hub: HubServer, hf_home: Path, *, token: str | None = None, project: bool = True) -> dict[str, str]:
    """The environment of a process whose `huggingface_hub` talks to `hub` (read at import: use a subprocess).

    Every inherited HF_* variable is dropped, so a developer's token or cache never leaks into a test; the
    project is importable only if `project` (a user of the published model has just the libraries).
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HF_", "HUGGING", "PYTHONPATH"))}
    env |= {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_ETAG_TIMEOUT": "2",  # a safety net: offline scenarios must not wait on the client's retries
        "HF_HUB_DOWNLOAD_TIMEOUT": "2",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "GRADIO_ANALYTICS_ENABLED": "False",
        # One OpenMP thread: on a busy two-core runner, HGB's threads spin on tiny predict calls.
        "OMP_NUM_THREADS": "1",
    }
    env |= {"PYTHONPATH": str(Path(__file__).resolve().parents[1])} if project else {}
    return env | ({"HF_TOKEN": token} if token else {})
