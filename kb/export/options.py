"""What an export is asked for, checked before any work: the split, the license, the out folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kb.errors import ExistsError, LicenseError, UsageError
from kb.export.card import CARD_FILE, is_export_card
from kb.export.result import SPLITS

FILE_FORMATS = ("jsonl", "parquet")
UNKNOWN_LICENSE = "unknown"


def parse_split(text: str) -> tuple[int, int, int]:
    """`80/10/10` -> (80, 10, 10): train/validation/test percentages adding up to 100."""
    parts = text.replace(" ", "").split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or sum(int(p) for p in parts) != 100:
        raise UsageError(f"split {text!r}: give train/validation/test percentages adding up to 100, e.g. 80/10/10")
    train, validation, test = (int(p) for p in parts)
    return train, validation, test


def split_of(case_id: str, ratio: tuple[int, int, int]) -> str:
    """The split a case belongs to: the first 64 bits of SHA-256(id) as a fraction of [0, 1)."""
    point = int.from_bytes(hashlib.sha256(case_id.encode("utf-8")).digest()[:8], "big") * 100
    train, validation, _ = ratio
    if point < train << 64:
        return "train"
    return "validation" if point < (train + validation) << 64 else "test"


def check_license(license: str | None, *, force: bool) -> str:
    if not license or not license.strip():
        raise LicenseError("no license chosen for the dataset (an SPDX id such as cc-by-4.0, or other)")
    if license.strip().lower() == UNKNOWN_LICENSE and not force:
        raise LicenseError("license `unknown`: a dataset needs a license its users can rely on")
    return license.strip()


_EXPORT_FILES = {CARD_FILE, *(f"{s}.jsonl" for s in SPLITS), "data"}


def check_out(out: Path, kb_root: Path, *, force: bool) -> None:
    """Refuse an out folder inside the KB, one holding files kb export did not write (and
    cannot replace as a whole), or a card not written by an export (unless ``force``)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    if out.resolve().is_relative_to(kb_root.resolve()):
        raise UsageError(f"{out}: inside the knowledge base {kb_root}; export somewhere else")
    if not out.is_dir():
        return
    others = sorted(p.name for p in out.iterdir() if p.name not in _EXPORT_FILES)
    if others:
        raise UsageError(
            f"{out}: holds files an export did not write ({', '.join(others[:3])}); export to another folder"
        )
    card = out / CARD_FILE
    if force or (card.is_file() and is_export_card(card.read_text(encoding="utf-8", errors="replace"))):
        return
    for name in (CARD_FILE, *(f"{s}.jsonl" for s in SPLITS), "data"):
        if (out / name).exists():
            raise ExistsError(out / name, hint="not written by an export", replaceable=True)
