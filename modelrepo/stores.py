"""Where versions live: the `Store` interface and the local folder registry.

A store holds immutable, numbered versions (`v1`, `v2`, …) of a model repository and movable aliases
(`production`). The Hub store (`modelrepo.hub`) implements the same interface, so callers never branch on
where a version lives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import ContractError, VersionNotFoundError
from .files import MANIFEST_FILE, PRODUCTION_ALIAS
from .manifest import file_entry, verify_folder

_VERSION_NAME = re.compile(r"^v([1-9][0-9]*)$")
_ALIASES_FILE = "aliases.json"
DEFAULT_REVISION = "main"  # what the Hub renders and serves without a revision: always the production version
_STAGING_PREFIX = ".staging-"


def version_number(name: str) -> int | None:
    """`v12` → 12; anything else → None."""
    match = _VERSION_NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Version:
    """One immutable version: its name, the commit that pins it, and where it can be seen."""

    name: str
    commit: str
    location: str

    @property
    def number(self) -> int | None:
        return version_number(self.name)


@dataclass(frozen=True)
class Snapshot:
    """A version fetched to a local folder, ready to verify and load."""

    version: Version
    folder: Path
    offline: bool = False


class Store(Protocol):
    """What training publishes to and serving fetches from."""

    @property
    def description(self) -> str: ...

    def versions(self) -> list[Version]: ...

    def resolve(self, revision: str) -> Version: ...

    def alias(self, name: str) -> Version | None: ...

    def read_text(self, version: Version, filename: str) -> str: ...

    def publish(self, folder: Path, *, message: str) -> Version: ...

    def set_alias(self, name: str, version: Version) -> None: ...

    def promote(self, version: Version) -> None:
        """Check `version` against its manifest, then move `production` to it and make the default revision
        (`main`) show it. Raises IntegrityError, moving nothing, if a file differs."""
        ...

    def fetch(self, revision: str, *, files: Iterable[str] | None = None) -> Snapshot: ...


class LocalStore:
    """A folder registry: `vN/` folders written once and made read-only, plus `aliases.json`.

    Publishing copies into a hidden staging folder and renames it into place, so an interrupted publish
    leaves no partial version; the alias file is replaced atomically.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def description(self) -> str:
        return f"local registry at {self.root}"

    def versions(self) -> list[Version]:
        if not self.root.is_dir():
            return []
        numbered = [
            (number, path)
            for path in self.root.iterdir()
            if path.is_dir() and (number := version_number(path.name)) is not None
        ]
        return [self._version(path) for _, path in sorted(numbered)]

    def resolve(self, revision: str) -> Version:
        """A version (`v3`), an alias (`production`; `main` is the production version, as on the Hub), or a
        manifest sha256 prefix (7+)."""
        if revision == DEFAULT_REVISION and DEFAULT_REVISION not in self._aliases():
            revision = PRODUCTION_ALIAS
        if version_number(revision) is not None and (self.root / revision).is_dir():
            return self._version(self.root / revision)
        aliased = self._aliases().get(revision)
        if aliased is not None:
            return self.resolve(aliased)
        matches = [v for v in self.versions() if len(revision) >= 7 and v.commit.startswith(revision)]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(v.name for v in self.versions()) or "none"
        aliases = ", ".join(self._aliases()) or "none"
        raise VersionNotFoundError(
            f"No version {revision!r} in the {self.description} (versions: {known}; aliases: {aliases}). "
            "Run `python -m training` to publish one, or name an existing version."
        )

    def alias(self, name: str) -> Version | None:
        target = self._aliases().get(name)
        return None if target is None else self.resolve(target)

    def read_text(self, version: Version, filename: str) -> str:
        return (self.root / version.name / filename).read_text(encoding="utf-8")

    def publish(self, folder: Path, *, message: str) -> Version:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            shutil.copytree(folder, staging)
            (staging / ".message").write_text(message + "\n", encoding="utf-8")
            verify_folder(staging)
            _make_read_only(staging)
            return self._rename_into_place(staging)
        finally:
            if staging.exists():
                shutil.rmtree(staging)

    def set_alias(self, name: str, version: Version) -> None:
        aliases = self._aliases() | {name: version.name}
        temporary = self.root / f"{_ALIASES_FILE}.{uuid.uuid4().hex}.tmp"
        temporary.write_text(json.dumps(aliases, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self.root / _ALIASES_FILE)

    def promote(self, version: Version) -> None:
        """`main` follows `production` here, so once the files check out, moving the alias is the promotion."""
        verify_folder(self.root / version.name)
        self.set_alias(PRODUCTION_ALIAS, version)

    def fetch(self, revision: str, *, files: Iterable[str] | None = None) -> Snapshot:
        version = self.resolve(revision)
        return Snapshot(version=version, folder=self.root / version.name)

    def _rename_into_place(self, staging: Path) -> Version:
        number = max((v.number or 0 for v in self.versions()), default=0) + 1
        while True:
            target = self.root / f"v{number}"
            try:
                staging.rename(target)  # fails if another publisher took this number first
            except OSError:
                if not target.exists():
                    raise
                number += 1
                continue
            return self._version(target)

    def _version(self, path: Path) -> Version:
        return Version(name=path.name, commit=file_entry(path / MANIFEST_FILE).sha256, location=str(path.resolve()))

    def _aliases(self) -> dict[str, str]:
        path = self.root / _ALIASES_FILE
        if not path.is_file():
            return {}
        try:
            aliases = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ContractError(f"{path} is not valid JSON ({error}); fix or delete it.") from error
        return {str(key): str(value) for key, value in aliases.items()}


def _make_read_only(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
