"""faceset.json: format version, the extract settings used, consent records, times and counts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from doppel.errors import DoppelError
from doppel.files import atomic_path
from doppel.types import Consent

FORMAT_VERSION = 1  # bump when index.sqlite or faceset.json change incompatibly
META_FILE = "faceset.json"


@dataclass(frozen=True)
class Meta:
    """The contents of faceset.json.

    config: the resolved extract config of the latest session that wrote to the faceset;
    earlier_configs: the distinct ones before it, oldest first (a faceset grown by several
    extract runs keeps what made every part of it). counts: faces, sources, tracks.
    """

    created: str
    updated: str
    config: dict[str, Any] = field(default_factory=dict)
    earlier_configs: tuple[dict[str, Any], ...] = ()
    consents: tuple[Consent, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_meta(config: dict[str, Any] | None) -> Meta:
    stamp = now()
    return Meta(created=stamp, updated=stamp, config=_plain(config or {}))


def with_config(meta: Meta, config: dict[str, Any]) -> Meta:
    """`config` becomes the current one; a different previous one is kept in earlier_configs."""
    config = _plain(config)
    if config == meta.config:
        return meta
    earlier = meta.earlier_configs + ((meta.config,) if meta.config else ())
    return replace(meta, config=config, earlier_configs=earlier)


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """A JSON copy (paths and fractions as text, tuples as lists), compared as it is stored."""
    return json.loads(json.dumps(config, default=str))


def with_consent(meta: Meta, consent: Consent) -> Meta | None:
    """`meta` with `consent` added, or None when a record with its id is there already."""
    if any(known.id == consent.id for known in meta.consents):
        return None
    return replace(meta, consents=meta.consents + (consent,))


def write_meta(folder: Path, meta: Meta) -> None:
    data = {
        "format_version": meta.format_version,
        "created": meta.created,
        "updated": meta.updated,
        "counts": meta.counts,
        "consents": [{"id": c.id, "subject": c.subject, "statement": c.statement,
                      "date": c.date, "kind": c.kind} for c in meta.consents],
        "config": meta.config,
        "earlier_configs": list(meta.earlier_configs),
    }
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    with atomic_path(folder / META_FILE) as temp:
        temp.write_text(text, encoding="utf-8")


def read_meta(folder: Path) -> Meta:
    """Read faceset.json; a version other than FORMAT_VERSION is an error that says what to do."""
    path = folder / META_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DoppelError(f"cannot read {path} ({error}): restore it from a backup") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise DoppelError(f"{path} has no format_version: {folder} is not a doppel faceset")
    if version != FORMAT_VERSION:
        raise DoppelError(_version_advice(folder, version))
    try:
        consents = tuple(_read_consent(record, path) for record in data["consents"])
        return Meta(created=str(data["created"]), updated=str(data["updated"]),
                    config=dict(data["config"]),
                    earlier_configs=tuple(dict(c) for c in data.get("earlier_configs", [])),
                    consents=consents, counts=dict(data.get("counts", {})), format_version=version)
    except (KeyError, TypeError, ValueError) as error:
        raise DoppelError(f"{path} is damaged ({type(error).__name__}: {error}): restore it "
                          "from a backup") from None


def _version_advice(folder: Path, version: int) -> str:
    if version > FORMAT_VERSION:
        return (f"faceset {folder} has format version {version}, newer than this doppel reads "
                f"({FORMAT_VERSION}): upgrade doppel")
    return (f"faceset {folder} has format version {version}, older than this doppel reads "
            f"({FORMAT_VERSION}): extract the faces again into a new faceset")


def _read_consent(record: dict[str, Any], path: Path) -> Consent:
    consent = Consent(record["subject"], record["statement"], record["date"], record["kind"])
    # The id travels into models and outputs; a record edited by hand would no longer match it.
    if record.get("id", consent.id) != consent.id:
        raise DoppelError(f"{path}: consent record {record['id'][:12]}… does not match its "
                          "contents (edited by hand?): restore it from a backup")
    return consent
