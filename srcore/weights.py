"""Weight registry: every model file we know, with where it comes from and how to check it.

Like torchvision's weights API, each file is one :class:`WeightFile` record carrying its URL
and SHA-256; our own trained weights additionally carry their model card (``assets/<name>.json``:
architecture, training data, iterations, wall time, measured Set5/Set14 numbers) as ``meta``.
Files are always verified before use, through :meth:`WeightFile.verify` alone: a file whose
SHA-256 does not match is refused, never loaded. The digest is computed once per (path, size,
mtime, inode) (:func:`srcore.weights_io.sha256_file`), so checking availability or upscaling
again costs a ``stat``, not a re-hash.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from srcore.atomic import atomic_path
from srcore.errors import ModelFileError
from srcore.paths import ASSETS_DIR, cache_dir, find_model_file, searched_dirs_text
from srcore.weights_io import sha256_file


@dataclass(frozen=True)
class WeightFile:
    """One weight file: stock zoo files, official checkpoints, downloads and our shipped assets alike.

    ``sha256`` None = not pinned (a warning is printed on download); ``sha256_prefix`` is for
    files whose publishers only give a hash prefix in the name. ``meta`` is the model card of
    our own shipped weights (None for third-party files); the check is then against the card.
    """

    filename: str
    url: str = ""
    sha256: str | None = None
    sha256_prefix: str | None = None
    meta: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    def verify(self, path: Path) -> None:
        """Raise :class:`ModelFileError` unless ``path`` has this record's SHA-256 (hashed once per file state)."""
        digest = sha256_file(path)
        if self.sha256 and digest != self.sha256:
            if self.meta is not None:
                raise ModelFileError(f"{path.name}: SHA-256 does not match its model card; refusing to load it (re-export or re-checkout assets/)")
            raise ModelFileError(f"{path.name}: SHA-256 {digest[:12]}... does not match the published {self.sha256[:12]}...; refusing to use it")
        if self.sha256_prefix and not digest.startswith(self.sha256_prefix):
            raise ModelFileError(f"{path.name}: SHA-256 {digest[:12]}... does not start with the published {self.sha256_prefix}; refusing to use it")


_RAW = "https://raw.githubusercontent.com"
_OPENCV_SUMS = {
    "ESPCN_x2.pb": "59f77351e1d7c0057bf6fe088b4a8a07e42c468c8c8aebb674a6b4ea1823221d",
    "ESPCN_x3.pb": "0e667db7a431d14c32568ed79bf21701a64df8b1d162e48ca1f8800affe2c2b3",
    "ESPCN_x4.pb": "e403f06309229cf36009cd8fb0da032ba7643fae9f15cf94fe562e8edf8fef47",
    "FSRCNN-small_x2.pb": "429e4793d049c1ae16ddbbc322fd11c3c08831c0c20137390b4d098976a2b0d9",
    "FSRCNN-small_x3.pb": "58e72d0c4231b8e754180e787d7348f45ae6230ee3c5af7dc12b558467f593f7",
    "FSRCNN-small_x4.pb": "92a9f57c28494813b4dc073b51a300cb909401454d77541bcdc96b4d55901d02",
    "FSRCNN_x2.pb": "366b33f0084c7b3f2bf6724f0a2c77bca94fcec9d7b6d72389d330073b380d5c",
    "FSRCNN_x3.pb": "efd38655a815908c6c8954db6052f128e76a735f1de657894c477d0dc0b64481",
    "FSRCNN_x4.pb": "5c68d18db561aed8ead4ffedf1b897ea615baaf60ebf6c35f8e641f8fa4a21bf",
    "LapSRN_x2.pb": "f59c86e6835bbca646dbd81588f07820dfe3bd09e3702976ae2d90b5fc0f0b21",
    "LapSRN_x4.pb": "d3e95c93cafae5ce5a8ed57ce9abf07f2de58da8c5d6d656b766774969835ee2",
    "LapSRN_x8.pb": "a00211938b2b4c7d23691525a9267d9d0bbb345cdb9f38a7fc917414a5a1884f",
}
_OPENCV_SOURCES = {
    "ESPCN": f"{_RAW}/fannymonori/TF-ESPCN/master/export",
    "FSRCNN": f"{_RAW}/Saafke/FSRCNN_Tensorflow/master/models",
    "FSRCNN-small": f"{_RAW}/Saafke/FSRCNN_Tensorflow/master/models",
    "LapSRN": f"{_RAW}/fannymonori/TF-LapSRN/master/export",
    "EDSR": f"{_RAW}/Saafke/EDSR_Tensorflow/master/models",
}


def _opencv_file(stem: str, scale: int) -> WeightFile:
    name = f"{stem}_x{scale}.pb"
    return WeightFile(name, f"{_OPENCV_SOURCES[stem]}/{name}", _OPENCV_SUMS.get(name))


_EDSR_OFFICIAL = "https://cv.snu.ac.kr/research/EDSR/models"
#: Official EDSR-PyTorch checkpoints; the 8 hex digits in each name are its SHA-256 prefix (torch.hub convention).
EDSR_OFFICIAL_FILES = {
    "edsr_baseline_x2-1bc95232.pt": 2,
    "edsr_baseline_x3-abf2a44e.pt": 3,
    "edsr_baseline_x4-6b446fab.pt": 4,
    "edsr_x2-0edfb8a3.pt": 2,
    "edsr_x3-ea3ef2c6.pt": 3,
    "edsr_x4-4f62e9ef.pt": 4,
}

#: Method id -> files ``python -m srcore download ID`` fetches.
ZOO: dict[str, list[WeightFile]] = {
    "dnn-espcn": [_opencv_file("ESPCN", s) for s in (2, 3, 4)],
    "dnn-fsrcnn": [_opencv_file("FSRCNN", s) for s in (2, 3, 4)],
    "dnn-fsrcnn-small": [_opencv_file("FSRCNN-small", s) for s in (2, 3, 4)],
    "dnn-lapsrn": [_opencv_file("LapSRN", s) for s in (2, 4, 8)],
    "dnn-edsr": [_opencv_file("EDSR", s) for s in (2, 3, 4)],
    # The baseline files (~5 MB each); the full EDSR files (~160 MB) are used too when a user puts them there.
    "edsr-official": [
        WeightFile(n, f"{_EDSR_OFFICIAL}/{n}", sha256_prefix=n.rsplit("-", 1)[1][:8]) for n in EDSR_OFFICIAL_FILES if "baseline" in n
    ],
}


def zoo_file(filename: str) -> WeightFile | None:
    """The record of a third-party file by name; official EDSR checkpoints (also the full ones not
    in ``ZOO``) by the SHA-256 prefix in their name, the torch.hub convention."""
    for files in ZOO.values():
        for f in files:
            if f.filename == filename:
                return f
    if filename in EDSR_OFFICIAL_FILES:
        return WeightFile(filename, f"{_EDSR_OFFICIAL}/{filename}", sha256_prefix=filename.rsplit("-", 1)[1][:8])
    return None


def locate_verified(filename: str) -> Path | None:
    """Find a zoo file in the model dirs and verify its checksum (raises ModelFileError on mismatch)."""
    path = find_model_file(filename)
    if path is None:
        return None
    spec = zoo_file(filename)
    if spec is not None:
        spec.verify(path)
    return path


def missing_reason(filename: str, method_id: str) -> str:
    return f"model file {filename} not found in {searched_dirs_text()}; run `python -m srcore download {method_id}`"


# ---------------------------------------------------------------- our own weights (assets/)


def card_path(name: str) -> Path:
    return ASSETS_DIR / f"{name}.json"


def load_card(name: str) -> dict[str, Any] | None:
    """The model card of a shipped weight set (e.g. ``edsr_x4``), or None if not shipped."""
    p = card_path(name)
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def shipped_weights(name: str) -> WeightFile | None:
    """The record of a shipped weight set (e.g. ``edsr_x4``) from its card, or None if not shipped."""
    card = load_card(name)
    if card is None:
        return None
    return WeightFile(card["file"], sha256=card["sha256"], meta=card)


def shipped_file(name: str) -> tuple[Path, dict[str, Any]] | None:
    """Path and card of a shipped weight file, checked against the card's SHA-256; None if not shipped."""
    weights = shipped_weights(name)
    if weights is None:
        return None
    path = ASSETS_DIR / weights.filename
    if not path.is_file():
        return None
    weights.verify(path)
    return path, weights.meta  # type: ignore[return-value]


# ---------------------------------------------------------------- downloads


def download_file(spec: WeightFile, dest_dir: Path | None = None, progress: bool = True) -> Path:
    """Fetch one file to ``dest_dir`` (the user cache by default).

    The data go to a temporary name and are renamed only after the checksum matched, so an
    interrupted or tampered download never leaves a usable-looking file behind.
    """
    dest_dir = dest_dir or cache_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.filename
    if target.is_file():
        try:
            spec.verify(target)
            return target
        except ModelFileError:
            pass  # a stale or corrupt copy: fetch again
    with atomic_path(target) as tmp:  # renamed only once the checksum matched; removed on any failure
        with open(tmp, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename, disable=not progress) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        spec.verify(tmp)
        if not spec.sha256 and not spec.sha256_prefix:
            print(f"warning: {spec.filename} has no pinned SHA-256; sha256={sha256_file(tmp)} (pin it in srcore/weights.py)", file=sys.stderr)
    return target
