"""The only files of a model repository that the app hands out: the card and the plots it shows.

Read once at startup and served from memory by name (`/api/v1/model/card`, `/api/v1/model/images/<name>`):
no Gradio file route reaches the snapshot folder, so `model.skops`, the manifest and the rest of a private
model stay on the server, and no page or response carries a server path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrepo import CARD_FILE, IMAGES_DIR

API_PREFIX = "/api/v1"


def card_image_names(folder: Path) -> list[str]:
    return sorted(path.name for path in (folder / IMAGES_DIR).glob("*.png") if path.is_file())


@dataclass(frozen=True)
class CardFiles:
    card: str
    images: dict[str, bytes]

    @classmethod
    def read(cls, folder: Path) -> CardFiles:
        card = folder / CARD_FILE
        images = {name: (folder / IMAGES_DIR / name).read_bytes() for name in card_image_names(folder)}
        return cls(card.read_text(encoding="utf-8") if card.is_file() else "", images)
