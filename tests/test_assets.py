"""Every file in ``assets/`` is the one its model card describes, and every method that ships one can run.

Why here and not only in the quality suite: the quality tests need ../shared (Set5/Set14) and skip
without it, and a shipped file that is missing or fails its SHA-256 only makes a method quietly
unavailable. These checks need nothing outside the repo, so deleting a weight file or changing one
byte of it fails the suite anywhere. Hashes are computed here with hashlib, independently of
``srcore.weights_io.sha256_file`` (the code under test, with its cache).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
CARDS = sorted(ASSETS.glob("*.json"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def test_assets_hold_cards() -> None:
    assert len(CARDS) >= 10, f"expected the shipped model cards in {ASSETS}"


@pytest.mark.parametrize("card_path", CARDS, ids=[p.stem for p in CARDS])
def test_card_matches_its_file(card_path: Path) -> None:
    card = json.loads(card_path.read_text())
    path = ASSETS / card["file"]
    assert path.is_file(), f"{card_path.name} describes {card['file']}, which is not in assets/"
    assert path.stat().st_size == card["bytes"], f"{card['file']}: {path.stat().st_size} bytes, the card says {card['bytes']}"
    assert _sha256(path) == card["sha256"], f"{card['file']}: SHA-256 differs from {card_path.name}"


def test_every_shipped_file_has_a_card() -> None:
    described = {json.loads(p.read_text())["file"] for p in CARDS}
    orphans = sorted(p.name for p in ASSETS.iterdir() if p.is_file() and p.suffix != ".json" and p.name not in described)
    assert not orphans, f"files in assets/ no card describes (so nothing checks them): {orphans}"


def test_every_method_with_a_card_runs_here(isolated_cache: Path) -> None:
    """Each scale a method has a card for is available with no model folder at all: the repo alone suffices."""
    from srcore.registry import all_methods

    with_cards = [(m, int(s)) for m in all_methods() for s in (m.info().get("cards") or {})]
    assert {("edsr", 4), ("srgan", 4), ("real-gan", 4), ("espcn", 2)} <= {(m.id, s) for m, s in with_cards}
    broken = {f"{m.id} x{s}": avail.reason for m, s in with_cards if not (avail := m.availability(s))}
    assert not broken, f"shipped methods that cannot run: {broken}"
