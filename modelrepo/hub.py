"""The Hugging Face Hub store: versions are `vN` tags on the `candidates` branch, aliases are branches, and `main`
(the branch the Hub renders and downloads by default) always holds the production version's files.

Every Hub call of the project lives here, on an `HfApi` passed in, so that tests can point the real client at
the loopback Hub and callers never branch on where a version lives (see `modelrepo.stores.Store`). Client
errors become `modelrepo` errors whose one-line message says what to do; a token is never printed or logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, GitRefs, HfApi, constants, get_token
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name

from .errors import ContractError, ModelRepoError, StoreAccessError, StoreUnavailableError, VersionNotFoundError
from .files import MANIFEST_FILE, PRODUCTION_ALIAS
from .manifest import verify_folder
from .stores import Snapshot, Version, version_number

logger = logging.getLogger(__name__)

_MAIN = "main"
_CANDIDATES = "candidates"  # where versions are committed, so that publishing never changes what `main` shows
_GITATTRIBUTES = ".gitattributes"  # made by the Hub with the repo; never part of a version's files
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHA_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")
_SHORT = 7
_TAG_ATTEMPTS = 5
_LOGIN_HINT = "set HF_TOKEN or run `hf auth login`"
_HUB_ERRORS = (httpx2.HTTPError, OfflineModeIsEnabled, LocalTokenNotFoundError, LocalEntryNotFoundError)


class HubStore:
    """A Hub model repo as a store: `publish` commits to `candidates` and tags `vN`; aliases are branches on a
    commit; `promote` moves `production` to a version and commits that version's files to `main`.

    The Hub cannot point `main` at another commit (the default branch can be neither deleted nor forced), so
    `main` gets a commit of its own holding exactly the promoted version's files: the model page, its card and
    `hf_hub_download(repo)` without a revision then show what `production` serves, and `resolve("main")` names
    that version (their manifests are the same blob).

    Two versions may name one commit: publishing files identical to the last candidate makes no commit (the
    client skips empty commits), and the new tag names the same commit as the previous version, which is the
    truth (same content). Resolving a commit or an alias then names the highest `vN` on it.
    """

    def __init__(self, api: HfApi, repo_id: str, *, private: bool = False) -> None:
        self.api = api
        self.repo_id = repo_id
        self.private = private

    @classmethod
    def connect(
        cls, repo_id: str, *, token: str | None = None, private: bool = False, create: bool = False
    ) -> HubStore:
        """The token is the argument, else HF_TOKEN or the saved login (huggingface_hub's own rule).

        `create=True` makes sure the repo exists now, so that a missing or refused token fails in a second,
        before any long work.

        Raises:
            StoreAccessError: `create` without a token, or the Hub refused it.
        """
        store = cls(HfApi(token=token), repo_id, private=private)
        if create:
            store._ensure_repo()
        return store

    @staticmethod
    def token_available(token: str | None = None) -> bool:
        """Whether a write could authenticate: `token`, else HF_TOKEN or a saved login."""
        return bool(token) or get_token() is not None

    @property
    def description(self) -> str:
        return f"Hugging Face Hub repo {self.repo_id}"

    def versions(self) -> list[Version]:
        refs = self._refs()
        tags = {} if refs is None else _tags(refs)
        numbered = sorted((number, name) for name in tags if (number := version_number(name)) is not None)
        return [self._version(name, tags[name]) for _, name in numbered]

    def resolve(self, revision: str) -> Version:
        """A tag (`v3`), an alias or branch (`production`, `main`), or a full or short (7+) commit sha."""
        refs = self._refs()
        if refs is None:
            raise VersionNotFoundError(self._missing_repo())
        tags, branches = _tags(refs), _branches(refs)
        sha = tags.get(revision) or branches.get(revision)
        if sha is None and _SHA_PREFIX.match(revision):
            sha = self._find_commit(revision, set(tags.values()) | set(branches.values()), branches)
        if sha is None:
            aliases = ", ".join(sorted(set(branches) - {_MAIN, _CANDIDATES})) or "none"
            raise VersionNotFoundError(
                f"No version {revision!r} in the {self.description} (versions: {_names(tags) or 'none'}; "
                f"aliases: {aliases}). Run `python -m training --repo {self.repo_id}` to publish one, or name an "
                "existing version."
            )
        name = revision if revision in tags and version_number(revision) else _version_name(sha, tags)
        if name == sha[:_SHORT] and revision == _MAIN and PRODUCTION_ALIAS in branches:
            name = self._shown_version(sha, branches[PRODUCTION_ALIAS], tags) or name
        return self._version(name, sha)

    def alias(self, name: str) -> Version | None:
        refs = self._refs()
        sha = None if refs is None else _branches(refs).get(name)
        return None if refs is None or sha is None else self._version(_version_name(sha, _tags(refs)), sha)

    def read_text(self, version: Version, filename: str) -> str:
        with self._hub(f"download {filename} of {version.name} from {self.repo_id}"):
            try:
                path = self.api.hf_hub_download(self.repo_id, filename, revision=version.commit)
            except RemoteEntryNotFoundError as error:
                raise ContractError(
                    f"{filename} is missing from {version.name} of {self.repo_id}: the model repository is "
                    "incomplete. Publish a complete version."
                ) from error
        return Path(path).read_text(encoding="utf-8")

    def publish(self, folder: Path, *, message: str) -> Version:
        """Verify, then one commit to `candidates` holding exactly the folder's files, then the next `vN` tag on
        it. `main` and `production` do not move."""
        verify_folder(folder)
        self._ensure_repo()
        self._ensure_candidates_branch()
        return self._tag_next(self._commit(Path(folder), message, branch=_CANDIDATES), message)

    def promote(self, version: Version) -> None:
        """Download `version` and check it against its manifest, then move `production` to it and make `main`
        hold its files (one commit, none if already equal). Raises IntegrityError before anything moves."""
        with tempfile.TemporaryDirectory(prefix="promote-") as scratch:  # not the HF cache: a copy to re-commit
            with self._hub(f"download {version.name} of {self.repo_id} to show it on main"):
                folder = Path(self.api.snapshot_download(self.repo_id, revision=version.commit, local_dir=scratch))
            verify_folder(folder)
            self.set_alias(PRODUCTION_ALIAS, version)
            message = f"Show {version.name} ({version.commit[:_SHORT]}), now production, on main"
            self._commit(folder, message, branch=_MAIN)

    def set_alias(self, name: str, version: Version) -> None:
        """Branches move only by delete + create: for that instant the alias is missing (no atomic move)."""
        if name == _MAIN or version_number(name) is not None:
            raise ValueError(f"{name!r} cannot be an alias: it is the main branch or a version name.")
        self._require_token(f"move the {name!r} alias of {self.repo_id}")
        current = self.alias(name)
        if current is not None and current.commit == version.commit:
            return
        with self._hub(f"move the {name!r} alias of {self.repo_id} to {version.name}"):
            if current is not None:
                self.api.delete_branch(self.repo_id, branch=name)
            self.api.create_branch(self.repo_id, branch=name, revision=version.commit)

    def fetch(self, revision: str, *, files: Iterable[str] | None = None) -> Snapshot:
        """Resolve once to a commit and download that snapshot; if the Hub is unreachable, use the HF cache.

        Raises:
            StoreUnavailableError: the Hub cannot be reached and the revision is not in the local cache.
        """
        patterns = None if files is None else list(files)
        try:
            version = self.resolve(revision)
            with self._hub(f"download {version.name} of {self.repo_id}"):
                folder = self.api.snapshot_download(self.repo_id, revision=version.commit, allow_patterns=patterns)
        except StoreUnavailableError as error:
            return self._cached(revision, patterns, error)
        self._remember(revision, version)
        return Snapshot(version=version, folder=Path(folder))

    # -- writing ------------------------------------------------------------------------------------------

    def _ensure_repo(self) -> None:
        self._require_token(f"publish to {self.repo_id}")
        with self._hub(f"create {self.repo_id}"):
            self.api.create_repo(self.repo_id, private=self.private or None, exist_ok=True)

    def _ensure_candidates_branch(self) -> None:
        refs = self._refs()
        if refs is None or _CANDIDATES not in _branches(refs):
            with self._hub(f"create the {_CANDIDATES!r} branch of {self.repo_id}"):
                self.api.create_branch(self.repo_id, branch=_CANDIDATES, revision=_MAIN, exist_ok=True)

    def _commit(self, folder: Path, message: str, *, branch: str) -> str:
        """`create_commit`, not `upload_folder`: with hf_xet the latter may split a folder into several commits."""
        local = _folder_files(folder)
        with self._hub(f"publish to {self.repo_id}"):
            remote = self.api.list_repo_files(self.repo_id, revision=branch)
            operations: list[CommitOperationAdd | CommitOperationDelete] = [
                CommitOperationDelete(path_in_repo=path)
                for path in remote
                if path not in local and path != _GITATTRIBUTES
            ]
            operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(folder / path)) for path in local]
            return self.api.create_commit(self.repo_id, operations, commit_message=message, revision=branch).oid

    def _tag_next(self, sha: str, message: str) -> Version:
        """Tag `v<highest + 1>`; if another publisher took that number first (409), take the next one."""
        refs = self._refs()
        tags = {} if refs is None else _tags(refs)
        same = _version_name(sha, tags)
        if version_number(same) is not None:
            logger.warning("No file changed since %s: the new version names the same commit %s.", same, sha[:_SHORT])
        first = max((version_number(name) or 0 for name in tags), default=0) + 1
        for number in range(first, first + _TAG_ATTEMPTS):
            try:
                with self._hub(f"tag v{number} in {self.repo_id}"):
                    self.api.create_tag(self.repo_id, tag=f"v{number}", tag_message=message, revision=sha)
            except HfHubHTTPError as error:
                if error.response.status_code != 409:
                    raise
                continue
            return self._version(f"v{number}", sha)
        raise ModelRepoError(
            f"Committed {sha[:_SHORT]} to {self.repo_id} but v{first}…v{first + _TAG_ATTEMPTS - 1} were all taken by "
            f"other publishers: tag it by hand, or publish again."
        )

    # -- reading ------------------------------------------------------------------------------------------

    def _refs(self) -> GitRefs | None:
        """Branches and tags in one call; None when the repo does not exist (or is private and unseen)."""
        try:
            with self._hub(f"list the versions of {self.repo_id}"):
                return self.api.list_repo_refs(self.repo_id)
        except VersionNotFoundError:
            return None

    def _find_commit(self, prefix: str, known: set[str], branches: Iterable[str]) -> str | None:
        """A commit sha by prefix: among the refs first, else in the history of `candidates` and `main`."""
        matches = {sha for sha in known if sha.startswith(prefix)}
        for branch in (b for b in (_CANDIDATES, _MAIN) if b in branches):
            if matches:
                break
            with self._hub(f"list the history of {self.repo_id}"):
                history = self.api.list_repo_commits(self.repo_id, revision=branch)
            matches = {commit.commit_id for commit in history if commit.commit_id.startswith(prefix)}
        if len(matches) > 1:
            raise VersionNotFoundError(
                f"Commit {prefix!r} is ambiguous in the {self.description} ({', '.join(sorted(matches))}): "
                "give more characters of the sha."
            )
        return next(iter(matches), None)

    def _shown_version(self, main: str, production: str, tags: dict[str, str]) -> str | None:
        """The production version's name if `main` holds the same manifest (the promotion copied it there)."""
        with self._hub(f"compare main with production in {self.repo_id}"):
            manifests = [
                {
                    entry.path: getattr(entry, "blob_id", None)
                    for entry in self.api.list_repo_tree(self.repo_id, revision=sha)
                }.get(MANIFEST_FILE)
                for sha in (main, production)
            ]
        name = _version_name(production, tags)
        same = manifests[0] is not None and manifests[0] == manifests[1]
        return name if same and version_number(name) is not None else None

    def _version(self, name: str, sha: str) -> Version:
        ref = name if version_number(name) is not None else sha
        endpoint = self.api.endpoint.rstrip("/")
        return Version(name=name, commit=sha, location=f"{endpoint}/{self.repo_id}/tree/{quote(ref, safe='')}")

    # -- the local HF cache, for when the Hub cannot be reached -------------------------------------------

    def _cache_folder(self) -> Path:
        return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=self.repo_id, repo_type="model")

    def _remember(self, revision: str, version: Version) -> None:
        """Record `refs/<name>` → sha as huggingface_hub does, so that the name resolves offline later.

        `snapshot_download` by sha records nothing, and the version name (`v3`) is recorded too, so that an
        offline fetch of `production` still knows which version it serves.
        """
        for name in {revision, version.name} - {version.commit}:
            if _SHA_PREFIX.match(name) and version.commit.startswith(name):
                continue  # a short sha: not a name
            try:
                _write_ref(self._cache_folder() / "refs" / name, version.commit)
            except OSError as error:  # a read-only cache only costs the offline fallback
                logger.warning("Could not record %s in the Hub cache: %s", name, error)

    def _cached(self, revision: str, patterns: list[str] | None, cause: StoreUnavailableError) -> Snapshot:
        sha = self._cached_commit(revision)
        folder: str | None = None
        if sha is not None:
            try:
                folder = self.api.snapshot_download(
                    self.repo_id, revision=sha, allow_patterns=patterns, local_files_only=True
                )
            except LocalEntryNotFoundError:
                folder = None
        if sha is None or folder is None:
            raise StoreUnavailableError(
                f"{str(cause).rstrip('.')}; and {revision!r} of {self.repo_id} is not in the local Hub cache either "
                f"({self._cache_folder()}): fetch it once while online."
            ) from cause
        version = self._version(self._cached_name(sha, revision), sha)
        logger.warning("The Hub is unreachable: using the cached %s (%s) of %s", version.name, sha, self.repo_id)
        return Snapshot(version=version, folder=Path(folder), offline=True)

    def _cached_commit(self, revision: str) -> str | None:
        """The sha a name resolved to when it was last fetched (`refs/<name>`), or a cached sha by prefix."""
        if _FULL_SHA.match(revision):
            return revision
        refs = self._cache_folder() / "refs"
        if ".." not in Path(revision).parts and (refs / revision).is_file():
            return (refs / revision).read_text(encoding="utf-8").strip()
        snapshots = self._cache_folder() / "snapshots"
        if not _SHA_PREFIX.match(revision) or not snapshots.is_dir():
            return None
        matches = [path.name for path in snapshots.iterdir() if path.name.startswith(revision)]
        return matches[0] if len(matches) == 1 else None

    def _cached_name(self, sha: str, revision: str) -> str:
        refs = self._cache_folder() / "refs"
        cached = {path.name: path.read_text(encoding="utf-8").strip() for path in refs.glob("v*") if path.is_file()}
        return revision if version_number(revision) is not None else _version_name(sha, cached)

    # -- errors -------------------------------------------------------------------------------------------

    def _has_token(self) -> bool:
        token = self.api.token
        return token is not False and self.token_available(token if isinstance(token, str) else None)

    def _require_token(self, action: str) -> None:
        if not self._has_token():
            raise StoreAccessError(f"A Hugging Face token is needed to {action}: {_LOGIN_HINT}.")

    def _missing_repo(self) -> str:
        return (
            f"No Hub model repo {self.repo_id} (or it is private and the token cannot read it): check the name, "
            f"or {_LOGIN_HINT} with a token that can read it."
        )

    def errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        """For other Hub calls about this repo (a dataset beside it): the same one-line errors as the store's."""
        return self._hub(action)

    @contextmanager
    def _hub(self, action: str) -> Iterator[None]:
        """Turn client errors into `modelrepo` errors; anything else (a 409, a bug) passes unchanged."""
        try:
            yield
        except HFValidationError as error:
            raise VersionNotFoundError(f"{self.repo_id!r} is not a valid Hub repo id: use `user/name`.") from error
        except _HUB_ERRORS as error:
            translated = self._translate(error, action)
            if translated is None:
                raise
            raise translated from error

    def _translate(self, error: Exception, action: str) -> ModelRepoError | None:
        status = error.response.status_code if isinstance(error, HfHubHTTPError) else None
        if isinstance(error, RepositoryNotFoundError) and status != 401:
            return VersionNotFoundError(self._missing_repo())
        if isinstance(error, LocalTokenNotFoundError) or (status == 401 and not self._has_token()):
            return StoreAccessError(f"The Hub wants a token to {action} (or the repo does not exist): {_LOGIN_HINT}.")
        if status == 401:
            return StoreAccessError(
                f"The Hub rejected the token (401) trying to {action}: {_LOGIN_HINT} with a valid one."
            )
        if status == 403:
            return StoreAccessError(
                f"The token may not {action} (403, no write access): {_LOGIN_HINT} with a token that can write to "
                f"{self.repo_id}."
            )
        if isinstance(error, RepositoryNotFoundError):  # a 401 with a token: the Hub hides private repos
            return VersionNotFoundError(self._missing_repo())
        if isinstance(error, RevisionNotFoundError):
            return VersionNotFoundError(
                f"A revision is missing from the {self.description} trying to {action}: name an existing version "
                f"(`python -m training --repo {self.repo_id}` publishes one)."
            )
        if isinstance(error, OfflineModeIsEnabled):
            return StoreUnavailableError(f"HF_HUB_OFFLINE is set: cannot {action}; unset it to reach the Hub.")
        if status is None or status >= 500 or status in (408, 429):
            return StoreUnavailableError(
                f"Cannot reach the Hugging Face Hub at {self.api.endpoint} to {action} ({type(error).__name__}): "
                "check the network (or HF_ENDPOINT) and retry."
            )
        return None


def _tags(refs: GitRefs) -> dict[str, str]:
    return {ref.name: ref.target_commit for ref in refs.tags}


def _branches(refs: GitRefs) -> dict[str, str]:
    return {ref.name: ref.target_commit for ref in refs.branches}


def _names(tags: dict[str, str]) -> str:
    numbered = sorted((number, name) for name in tags if (number := version_number(name)) is not None)
    return ", ".join(name for _, name in numbered)


def _version_name(sha: str, tags: dict[str, str]) -> str:
    """The highest `vN` naming `sha` (several do when identical content was published again), else the short sha."""
    numbered = [(number, name) for name, target in tags.items() if target == sha and (number := version_number(name))]
    return max(numbered)[1] if numbered else sha[:_SHORT]


def _folder_files(folder: Path) -> list[str]:
    """POSIX paths of the files to publish; top-level hidden ones (`.cache/`, `.git/`) stay local, as in
    `hash_folder`, so that what is published is exactly what the manifest covers."""
    paths = (path.relative_to(folder) for path in sorted(folder.rglob("*")) if path.is_file())
    return [path.as_posix() for path in paths if not path.parts[0].startswith(".")]


def _write_ref(path: Path, sha: str) -> None:
    """Atomically, without a newline, as huggingface_hub writes and reads `refs/` files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(sha, encoding="utf-8")
    os.replace(temporary, path)
