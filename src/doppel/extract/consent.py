"""Which consent records a faceset's faces come with: given by the user, or the synthetic
identity record that `doppel synth` clips carry."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from doppel.errors import DoppelError
from doppel.types import Consent

TRUTH_SUFFIX = ".truth.npz"  # doppel synth writes <actor>.mp4 next to <actor>.truth.npz


def consent_from_option(value: str, subject: str) -> Consent:
    """The record `--consent VALUE` asks for. VALUE is a JSON file holding a record
    (subject, statement, date, kind), a text file whose text is the statement, or the
    statement itself; `subject` names the person when the value does not (a label, not
    necessarily a real name), and a statement without a date is dated today."""
    path = Path(value)
    if value.endswith((".json", ".txt")) and not path.is_file():
        raise DoppelError(f"consent file {value} does not exist: give its path, or the "
                          "statement itself as text")
    if path.suffix == ".json" and path.is_file():
        return _record_from_json(path)
    statement = path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()
    if not statement:
        raise DoppelError("the consent statement is empty: say what the person agreed to")
    return Consent(subject, statement, datetime.date.today().isoformat(), "person")


def synthetic_consent_of(video: Path) -> Consent | None:
    """The synthetic-identity record of a `doppel synth` clip, or None when `video` is not one.

    A clip counts as synthetic only when its signed C2PA manifest is valid, says it is
    synthetic, and lists the id of the record in the truth file beside it: a sidecar alone
    could be written by anyone.
    """
    from doppel.provenance import read_manifest

    truth = video.with_suffix(TRUTH_SUFFIX)
    if not truth.is_file():
        return None
    try:
        with np.load(truth) as arrays:
            record = json.loads(str(arrays["consent"]))
        consent = Consent(**record)
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise DoppelError(f"{truth} is damaged ({error}): render the clip again with "
                          "doppel synth, or give --consent") from None
    manifest = read_manifest(video)
    if consent.kind != "synthetic" or not manifest.valid or manifest.kind != "synthetic" \
            or consent.id not in manifest.consent_ids:
        raise DoppelError(f"{video}'s truth file names a synthetic actor but its signed "
                          "manifest does not vouch for it: give --consent for these faces")
    return consent


def _record_from_json(path: Path) -> Consent:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        consent = Consent(subject=str(record["subject"]), statement=str(record["statement"]),
                          date=str(record["date"]), kind=record.get("kind", "person"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DoppelError(f"{path} is not a consent record ({error}): it needs subject, "
                          "statement and date (YYYY-MM-DD), and kind person or synthetic"
                          ) from None
    if consent.kind not in ("person", "synthetic"):
        raise DoppelError(f"{path}: consent kind must be person or synthetic, not "
                          f"{consent.kind!r}")
    try:
        datetime.date.fromisoformat(consent.date)
    except ValueError:
        raise DoppelError(f"{path}: consent date {consent.date!r} is not YYYY-MM-DD") from None
    return consent
