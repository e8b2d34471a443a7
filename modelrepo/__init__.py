"""The model-repository contract shared by training and serving, and the stores that hold its versions."""

from __future__ import annotations

from .comparables import ComparableColumns
from .errors import (
    ContractError,
    IntegrityError,
    ModelRepoError,
    StoreAccessError,
    StoreUnavailableError,
    UntrustedTypesError,
    VersionNotFoundError,
)
from .files import (
    CARD_FILE,
    COMPARABLES_FILE,
    EXAMPLES_FILE,
    FORMAT_VERSION,
    IMAGES_DIR,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PRODUCTION_ALIAS,
    REFERENCE_FILE,
    REQUIRED_FILES,
    SCHEMA_FILE,
)
from .frame import to_frame
from .manifest import DataFingerprint, DatasetRef, FileEntry, Manifest, file_entry, hash_folder, verify_folder
from .schema import Feature, FeatureKind, FeatureValue, Schema, Target
from .spread import member_spread
from .stores import LocalStore, Snapshot, Store, Version, version_number
from .trust import TRUSTED_TYPES, load_model, save_model, untrusted_types

__all__ = [
    "CARD_FILE",
    "COMPARABLES_FILE",
    "EXAMPLES_FILE",
    "FORMAT_VERSION",
    "IMAGES_DIR",
    "MANIFEST_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "PRODUCTION_ALIAS",
    "REFERENCE_FILE",
    "REQUIRED_FILES",
    "SCHEMA_FILE",
    "TRUSTED_TYPES",
    "ComparableColumns",
    "ContractError",
    "DataFingerprint",
    "DatasetRef",
    "Feature",
    "FeatureKind",
    "FeatureValue",
    "FileEntry",
    "IntegrityError",
    "LocalStore",
    "Manifest",
    "ModelRepoError",
    "Schema",
    "Snapshot",
    "Store",
    "StoreAccessError",
    "StoreUnavailableError",
    "Target",
    "UntrustedTypesError",
    "Version",
    "VersionNotFoundError",
    "file_entry",
    "hash_folder",
    "load_model",
    "member_spread",
    "save_model",
    "to_frame",
    "untrusted_types",
    "verify_folder",
    "version_number",
]
