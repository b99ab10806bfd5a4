"""Signed C2PA manifests: what doppel made, from what, with which model and consent records.

A swap is an EDIT of its input (the parent ingredient) with a `c2pa.edited` action whose
digital source type is compositeWithTrainedAlgorithmicMedia; a synthetic-actor render is a
CREATE with algorithmicMedia; an "edit" (e.g. `doppel cut` of a labelled file) is an EDIT whose
parent ingredient carries the original manifest, so the chain of credentials survives. Every manifest records `c2pa.watermarked` with a soft-binding
assertion holding the watermark id, and doppel's own assertion with the model id, the consent
record ids and the tool version.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from doppel import __version__
from doppel.errors import DoppelError
from doppel.provenance.keys import SignerFiles

ClaimKind = Literal["swap", "synthetic", "edit"]
SOFT_BINDING_ALG = "org.doppel.wm.2"
DOPPEL_ASSERTION = "org.doppel.provenance"
_IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPES = {"swap": "compositeWithTrainedAlgorithmicMedia", "synthetic": "algorithmicMedia"}
MIME_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
              ".webp": "image/webp", ".mp4": "video/mp4", ".mov": "video/quicktime"}
# No thumbnail: it would be an unwatermarked copy of the picture inside the file.
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


@dataclass(frozen=True)
class Claim:
    """What a manifest says about one output file."""

    kind: ClaimKind
    watermark_id: int
    consent_ids: tuple[str, ...]
    model_id: str | None = None
    parent: Path | None = None  # the input a swap edited
    title: str | None = None


@dataclass(frozen=True)
class ManifestReport:
    """What `read_manifest` found. state: "none", "Invalid", "Valid" or "Trusted"."""

    state: str
    kind: ClaimKind | None = None
    source_type: str | None = None
    actions: tuple[str, ...] = ()
    watermark_id: int | None = None
    model_id: str | None = None
    consent_ids: tuple[str, ...] = ()
    tool: str | None = None
    signer: str | None = None
    failures: tuple[str, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def present(self) -> bool:
        return self.state != "none"

    @property
    def valid(self) -> bool:
        return self.state in ("Valid", "Trusted")


def mime_type(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MIME_TYPES:
        raise DoppelError(f"C2PA manifests cannot be embedded in {suffix or 'this'} files: "
                          f"write one of {' '.join(MIME_TYPES)}")
    return MIME_TYPES[suffix]


def manifest_json(claim: Claim, title: str) -> dict[str, Any]:
    if claim.kind == "edit":
        main_action: dict[str, str] = {"action": "c2pa.edited"}
    elif claim.kind == "swap":
        main_action = {"action": "c2pa.edited", "digitalSourceType": _IPTC + SOURCE_TYPES["swap"]}
    else:
        main_action = {"action": "c2pa.created",
                       "digitalSourceType": _IPTC + SOURCE_TYPES["synthetic"]}
    payload = claim.watermark_id.to_bytes(8, "big")
    return {
        "claim_generator_info": [{"name": "doppel", "version": __version__}],
        "title": claim.title or title,
        "assertions": [
            {"label": "c2pa.actions",
             "data": {"actions": [main_action, {"action": "c2pa.watermarked"}]}},
            {"label": "c2pa.soft-binding",
             "data": {"alg": SOFT_BINDING_ALG,
                      "blocks": [{"scope": {}, "value": base64.b64encode(payload).decode()}]}},
            {"label": DOPPEL_ASSERTION,
             "data": {"kind": claim.kind, "model_id": claim.model_id,
                      "consent_ids": list(claim.consent_ids),
                      "watermark_id": f"{claim.watermark_id:016x}",
                      "tool": f"doppel {__version__}"}},
        ],
    }


def sign_file(path: Path, claim: Claim, signer: SignerFiles) -> None:
    """Embed a signed manifest for `claim` into `path`, replacing it atomically.

    Meant to run on a finished temp file (the media writers' `on_finish` hook), so the
    published file is signed from its first appearance.
    """
    import c2pa

    path = Path(path)
    mime = mime_type(path)
    chain, key = signer.read()
    try:
        context = c2pa.Context.from_dict(_SETTINGS)
        builder = c2pa.Builder(json.dumps(manifest_json(claim, path.name)), context=context)
        if claim.kind in ("swap", "edit"):
            if claim.parent is None:
                raise ValueError(f"an {claim.kind} claim needs its input as parent")
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            with open(claim.parent, "rb") as parent:
                builder.add_ingredient({"title": Path(claim.parent).name,
                                        "relationship": "parentOf"},
                                       _ingredient_mime(claim.parent), parent)
        else:
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE,
                               c2pa.C2paDigitalSourceType.ALGORITHMIC_MEDIA)
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None)
        signed = _sibling_temp(path)
        try:
            with c2pa.Signer.from_info(info) as c2pa_signer, open(path, "rb") as source, \
                    open(signed, "wb") as target:
                builder.sign(c2pa_signer, mime, source, target)
            os.replace(signed, path)
        finally:
            signed.unlink(missing_ok=True)
    except c2pa.C2paError as error:
        raise DoppelError(f"cannot sign {path.name}: {error}; check the signing certificate "
                          "and key") from None


def _ingredient_mime(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    return MIME_TYPES.get(suffix, {".mkv": "video/x-matroska", ".avi": "video/avi"}
                          .get(suffix, "application/octet-stream"))


def _sibling_temp(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".signing{path.suffix}",
                                    dir=path.parent)
    os.close(handle)
    return Path(name)


def read_manifest(path: Path, trust: Path | None = None) -> ManifestReport:
    """Read and validate the manifest in `path`; with `trust` (a CA PEM), check the chain."""
    import c2pa

    settings: dict[str, Any] = dict(_SETTINGS)
    if trust is not None:
        try:
            anchors = Path(trust).read_text()
        except OSError as error:
            raise DoppelError(f"cannot read trust anchors {trust}: {error.strerror}") from None
        settings |= {"trust": {"trust_anchors": anchors}, "verify": {"verify_trust": True}}
    try:
        reader = c2pa.Reader(str(path), context=c2pa.Context.from_dict(settings))
    except (c2pa.C2paError.ManifestNotFound, c2pa.C2paError.NotSupported):
        return ManifestReport("none")  # NotSupported: a format C2PA cannot embed in (WebM)
    except c2pa.C2paError as error:
        return ManifestReport("Invalid", failures=(str(error),))
    with reader:
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or "Invalid"
        results = reader.get_validation_results() or {}
    return _report(state, manifest, results)


def _report(state: str, manifest: dict[str, Any], results: dict[str, Any]) -> ManifestReport:
    assertions = {a.get("label"): a.get("data", {}) for a in manifest.get("assertions", [])}
    actions = next((data.get("actions", []) for label, data in assertions.items()
                    if label and label.startswith("c2pa.actions")), [])
    source = next((a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")),
                  None)
    ours = assertions.get(DOPPEL_ASSERTION, {})
    binding = assertions.get("c2pa.soft-binding", {})
    watermark = None
    if binding.get("alg") == SOFT_BINDING_ALG and binding.get("blocks"):
        watermark = int.from_bytes(base64.b64decode(binding["blocks"][0]["value"]), "big")
    failures = tuple(f"{item.get('code')}: {item.get('explanation', '')}"
                     for item in results.get("activeManifest", {}).get("failure", []))
    return ManifestReport(
        state=state,
        kind=ours.get("kind"),
        source_type=source.rsplit("/", 1)[-1] if source else None,
        actions=tuple(a.get("action", "") for a in actions),
        watermark_id=watermark,
        model_id=ours.get("model_id"),
        consent_ids=tuple(ours.get("consent_ids", ())),
        tool=ours.get("tool"),
        signer=manifest.get("signature_info", {}).get("common_name"),
        failures=failures,
        manifest=manifest,
    )
