"""`python -m training.promote VERSION`: move `production` (and the model page) to an existing version, or back.

    python -m training.promote v3 [--repo user/name | --registry ./registry] [--dry-run]

The version's files are checked against its manifest first; a version that fails the check, or a name that is
not a version, changes nothing. This is how to roll back: promote the previous version. A running app pinned
to `production` serves the new version from its next start (a Space restarts when its variables change, or
with "Restart" in its settings).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from modelrepo import PRODUCTION_ALIAS, ModelRepoError, Store, Version, VersionNotFoundError, verify_folder
from modelrepo.hub import HubStore

from .settings import environment_defaults


def build_parser() -> argparse.ArgumentParser:
    env = environment_defaults()
    parser = argparse.ArgumentParser(
        prog="python -m training.promote", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("version", help="the version to serve, for example v3")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--repo", default=None, help="Hugging Face Hub model repo, user/name (env MODEL_REPO)")
    where.add_argument(
        "--registry", type=Path, default=None, help="local registry folder (env MODEL_REGISTRY, default: ./registry)"
    )
    parser.add_argument("--dry-run", action="store_true", help="check the version and say what would change")
    parser.set_defaults(env_repo=env["repo_id"], env_registry=env["registry"])
    return parser


def promote(store: Store, name: str, *, dry_run: bool = False) -> tuple[Version | None, Version]:
    """Verify `name` and move production to it; returns (production before, the promoted version).

    Raises:
        VersionNotFoundError: `name` is not one of the store's versions (the message lists them).
        IntegrityError: the version's files differ from its manifest.
    """
    versions = store.versions()
    chosen = next((version for version in versions if version.name == name), None)
    if chosen is None:
        known = ", ".join(version.name for version in versions) or "none yet (run `python -m training`)"
        raise VersionNotFoundError(f"No version {name!r} in the {store.description}; its versions: {known}.")
    before = store.alias(PRODUCTION_ALIAS)
    if dry_run:
        verify_folder(store.fetch(chosen.name).folder)
    else:
        store.promote(chosen)  # checks the files first
    return before, chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    store = _store(args)
    try:
        before, chosen = promote(store, args.version, dry_run=args.dry_run)
    except ModelRepoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    was = _named(before)
    print(f"store       {store.description}")
    print(f"verified    {chosen.name}: every file matches its manifest")
    if args.dry_run:
        change = "no change" if before == chosen else f"would move from {was} to {_named(chosen)}"
        print(f"production  {change} (dry run: nothing changed)")
        return 0
    print(f"production  before: {was}")
    print(f"            after:  {_named(chosen)}" + ("  (unchanged)" if before == chosen else ""))
    if isinstance(store, HubStore):
        print(f"main        shows {chosen.name} (the model page and downloads without a revision)")
    return 0


def _store(args: argparse.Namespace) -> Store:
    from modelrepo import LocalStore

    repo = args.repo or (None if args.registry else args.env_repo)
    if repo:
        return HubStore.connect(repo, token=os.environ.get("HF_TOKEN") or None)
    return LocalStore(args.registry or args.env_registry)


def _named(version: Version | None) -> str:
    return "none" if version is None else f"{version.name} ({version.commit[:12]})"


if __name__ == "__main__":
    raise SystemExit(main())
