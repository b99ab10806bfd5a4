"""Manifests, ledger and `doppel verify` on files labelled the way doppel's writers label them."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from doppel.media import VideoWriter, WriterConfig, write_image
from doppel.provenance import (
    Claim,
    LabelConfig,
    Watermarker,
    local_signer,
    mark_frame,
    new_watermark_id,
    read_manifest,
    sign_file,
    verify,
)
from doppel.types import Consent, Frame

CONSENT = Consent("actor-1", "synthetic identity: this person does not exist", "2026-11-25",
                  "synthetic")


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("config")


@pytest.fixture(scope="module")
def signer(config_dir):
    return local_signer(config_dir / "keys")


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return np.asarray(Image.fromarray(data.coffee()).resize((640, 360)))


def labelled_image(path: Path, picture, signer, ledger: Path) -> int:
    watermark_id = new_watermark_id()
    claim = Claim("synthetic", watermark_id, (CONSENT.id,), title=path.name)
    rgb = mark_frame(picture, Watermarker(watermark_id), LabelConfig())
    write_image(path, rgb, on_finish=lambda temp: sign_file(temp, claim, signer, ledger))
    return watermark_id


def labelled_video(path: Path, source: Path, picture, signer, ledger: Path) -> int:
    watermark_id = new_watermark_id("model-7")
    claim = Claim("swap", watermark_id, (CONSENT.id,), model_id="model-7", parent=source,
                  title=path.name)
    marker = Watermarker(watermark_id)
    with VideoWriter(path, 25, config=WriterConfig(preset="veryfast"),
                     on_finish=lambda temp: sign_file(temp, claim, signer, ledger)) as writer:
        for index in range(20):
            moving = np.roll(picture, 2 * index, axis=1)
            writer.write(Frame(index, Fraction(index, 25), mark_frame(moving, marker)))
    return watermark_id


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_manifest_round_trip(tmp_path, picture, signer, suffix):
    path = tmp_path / f"out{suffix}"
    watermark_id = labelled_image(path, picture, signer, tmp_path / "ledger.sqlite")
    manifest = read_manifest(path)
    assert manifest.state == "Valid"  # signed, but the local CA is not trusted by default
    assert read_manifest(path, trust=signer.ca).state == "Trusted"
    assert manifest.kind == "synthetic" and manifest.source_type == "algorithmicMedia"
    assert manifest.actions == ("c2pa.created", "c2pa.watermarked")
    assert manifest.watermark_id == watermark_id and manifest.consent_ids == (CONSENT.id,)
    report = verify(path)
    assert report.verdict == "AI-generated (manifest + watermark)"
    assert report.watermark.payload == watermark_id


@pytest.mark.slow
def test_video_round_trip_strip_and_recover(tmp_path, picture, signer, run_ffmpeg):
    picture = np.asarray(Image.fromarray(data.coffee()).resize((1280, 720)))
    source = write_image(tmp_path / "input.png", picture)
    ledger = tmp_path / "ledger.sqlite"
    path = tmp_path / "swap.mp4"
    watermark_id = labelled_video(path, source, picture, signer, ledger)
    manifest = read_manifest(path)
    assert manifest.valid and manifest.kind == "swap"
    assert manifest.source_type == "compositeWithTrainedAlgorithmicMedia"
    assert "c2pa.edited" in manifest.actions and manifest.model_id == "model-7"
    report = verify(path, ledger=ledger)
    assert report.verdict == "AI-generated (manifest + watermark)"
    assert report.frames_checked == 20

    reencoded = tmp_path / "reencoded.mp4"  # what an upload site does: the manifest is gone
    run_ffmpeg("-i", str(path), "-c:v", "libx264", "-crf", "23", "-preset", "veryfast",
               str(reencoded))
    report = verify(reencoded, ledger=ledger)
    assert not report.manifest.present
    assert report.verdict == "AI-generated (watermark only; manifest stripped)"
    assert report.watermark.payload == watermark_id
    assert report.recovered["assertions"][2]["data"]["model_id"] == "model-7"
    assert report.recovered_from == "swap.mp4"


def test_reencoded_image_keeps_the_watermark_only(tmp_path, picture, signer):
    path = tmp_path / "out.png"
    watermark_id = labelled_image(path, picture, signer, tmp_path / "ledger.sqlite")
    copy = tmp_path / "copy.jpg"
    Image.open(path).convert("RGB").save(copy, quality=80)
    report = verify(copy, ledger=tmp_path / "ledger.sqlite")
    assert report.verdict == "AI-generated (watermark only; manifest stripped)"
    assert report.watermark.payload == watermark_id and report.recovered is not None


def test_changed_pixels_fail_validation(tmp_path, picture, signer):
    path = tmp_path / "out.jpg"
    labelled_image(path, picture, signer, tmp_path / "ledger.sqlite")
    raw = bytearray(path.read_bytes())
    raw[-300] ^= 0x55  # a byte of the entropy-coded pixels; the manifest sits at the start
    path.write_bytes(bytes(raw))
    manifest = read_manifest(path)
    assert manifest.present and not manifest.valid
    assert verify(path).verdict.startswith("manifest INVALID")


def test_garbage_file_is_a_user_error(tmp_path):
    from doppel.errors import DoppelError

    junk = tmp_path / "junk.png"
    junk.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(DoppelError, match="corrupt or not an image"):
        verify(junk)


def test_clean_file_has_no_provenance(tmp_path, picture, clip):
    path = write_image(tmp_path / "clean.png", picture)
    assert verify(path).verdict == "no provenance"
    assert verify(clip).verdict == "no provenance"


def test_consent_id_is_the_hash_of_canonical_json():
    same = Consent("actor-1", "synthetic identity: this person does not exist", "2026-11-25",
                   "synthetic")
    assert CONSENT.id == same.id and len(CONSENT.id) == 64
    assert Consent("actor-2", CONSENT.statement, CONSENT.date, "synthetic").id != CONSENT.id


def test_local_signer_is_made_once_with_a_private_key(config_dir, signer):
    from cryptography import x509

    assert signer.key.stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate(signer.ca.read_bytes())
    assert "untrusted" in ca.subject.rfc4514_string()
    again = local_signer(config_dir / "keys")
    assert again.chain.read_bytes() == signer.chain.read_bytes()


def test_verify_cli_json(tmp_path, picture, signer, config_dir):
    path = tmp_path / "out.png"
    labelled_image(path, picture, signer, config_dir / "ledger.sqlite")
    result = subprocess.run([sys.executable, "-m", "doppel", "verify", str(path), "--json",
                             "--trust", str(signer.ca)], capture_output=True, text=True,
                            env={"XDG_CONFIG_HOME": str(config_dir.parent), "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "AI-generated (manifest + watermark)"
    assert report["manifest"]["trusted"] is True


@pytest.mark.slow
def test_cut_of_a_labelled_video_keeps_its_credentials(tmp_path, picture, signer, config_dir):
    picture = np.asarray(Image.fromarray(data.coffee()).resize((1280, 720)))
    source = write_image(tmp_path / "input.png", picture)
    path = tmp_path / "swap.mp4"
    watermark_id = labelled_video(path, source, picture, signer, config_dir / "ledger.sqlite")
    piece = tmp_path / "piece.mp4"
    # From the start: the first frame is the clip's intra-coded one, which keeps the mark best
    # (a cut from a predicted frame of a panning clip loses it today: see issue 3's notes).
    result = subprocess.run([sys.executable, "-m", "doppel", "cut", str(path), "-o", str(piece),
                             "--end", "0.6"], capture_output=True, text=True,
                            env={"XDG_CONFIG_HOME": str(config_dir.parent), "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    report = verify(piece)
    assert report.verdict == "AI-generated (manifest + watermark)"
    assert report.manifest.watermark_id == watermark_id == report.watermark.payload
    assert "c2pa.edited" in report.manifest.actions
    assert report.manifest.model_id == "model-7" and report.manifest.consent_ids == (CONSENT.id,)
    ingredients = report.manifest.manifest.get("ingredients", [])
    assert ingredients and ingredients[0]["title"] == "swap.mp4"


def test_own_signer_is_used_and_a_bad_one_is_a_clear_error(tmp_path, picture, signer):
    from doppel.errors import DoppelError
    from doppel.provenance.keys import SigningConfig, signer_for

    own = signer_for(SigningConfig(sign_cert=signer.chain, sign_key=signer.key), tmp_path)
    assert own.chain == signer.chain and not (tmp_path / "keys").exists()
    assert signer_for(SigningConfig(), tmp_path).chain.parent == tmp_path / "keys"
    with pytest.raises(DoppelError, match="go together"):
        SigningConfig(sign_cert=signer.chain)
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    path = write_image(tmp_path / "a.png", picture)
    claim = Claim("synthetic", 1, (CONSENT.id,))
    with pytest.raises(DoppelError, match="cannot sign a.png"):
        sign_file(path, claim, signer_for(SigningConfig(signer.chain, bad_key), tmp_path))
    assert not read_manifest(path).present and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.png", "bad.pem", "keys"]
