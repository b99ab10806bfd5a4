"""Data that crosses stage boundaries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture.

    index: position in the source, counting from 0 (before any `step`).
    pts: presentation time in seconds, exact; None for still images and image directories.
    rgb: RGB uint8, HxWx3, C-contiguous, already rotated for display.
    """

    index: int
    pts: Fraction | None
    rgb: npt.NDArray[np.uint8]

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


ConsentKind = Literal["person", "synthetic"]


@dataclass(frozen=True)
class Consent:
    """A record that the person shown agreed to be used (or that they do not exist).

    subject: who the faces belong to, as a label (not a real name where avoidable).
    statement: what was agreed to, in words. date: ISO date (YYYY-MM-DD) of the agreement.
    kind: "person" for a real person, "synthetic" for a synthetic actor.
    Its id, the sha256 of its canonical JSON, travels from faceset to model to every output.
    """

    subject: str
    statement: str
    date: str
    kind: ConsentKind

    def canonical_json(self) -> str:
        fields = {"subject": self.subject, "statement": self.statement, "date": self.date,
                  "kind": self.kind}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()
