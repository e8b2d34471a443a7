"""The Hub store that `python -m training --repo user/name` publishes to, opened before any training."""

from __future__ import annotations

from modelrepo import StoreAccessError
from modelrepo.hub import HubStore

from .errors import TrainingError
from .settings import TrainOptions


def open_hub_store(options: TrainOptions) -> HubStore:
    """Connect and create the repo now, so that a missing or refused token fails in seconds, not after training.

    Raises:
        StoreAccessError: there is no token at all (no HF_TOKEN, no saved login), or the Hub refused it.
    """
    if not options.repo_id:
        raise TrainingError("Name the Hub model repo to publish to: --repo user/name (or set MODEL_REPO).")
    if not HubStore.token_available(options.token):
        raise StoreAccessError(
            f"Publishing to the Hub repo {options.repo_id} needs a Hugging Face token with write access: set HF_TOKEN "
            "or run `hf auth login` (or drop --repo to publish to the local registry)."
        )
    return HubStore.connect(options.repo_id, token=options.token, private=options.private, create=True)
