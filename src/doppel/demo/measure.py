"""The demo's measurement: the swap doppel wrote and the classic landmark swap, each against
the ideal swap (the source actor rendered with the target's performance, scene and light),
scored as `doppel bench quality` scores; and what the report shows of it: a side-by-side video
(VP9 WebM, which Debian's Chromium plays) and a few side-by-side stills."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from doppel.demo.pipeline import FPS, SIZE, Result, say
from doppel.provenance import LabelConfig
from doppel.runtime import Runtime

COLUMNS = ("target (original)", "doppel swap", "classic swap", "ground truth")
COMPARISON, STILLS = "comparison.webm", "frames.png"
STILL_ROWS = 2
WEBM_CRF = 30  # VP9's scale: small files, faces still sharp at 256 px
LABEL = LabelConfig()


def measure(folder: Path, actors: Result, runtime: Runtime) -> Result:
    from tqdm import tqdm

    from doppel.bench.quality import gallery_mean, source_photo, suite_pairs
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder
    from doppel.media import VideoWriter, WriterConfig, probe, read_frames
    from doppel.metrics import ClipScores
    from doppel.provenance import Watermarker, draw_label, new_watermark_id
    from doppel.swap import SWAPPERS
    from doppel.synth import (Clip, generate_performance, random_actor, random_scene,
                              render_swap_truth)

    source_seed, target_seed = actors["source"]["seed"], actors["target"]["seed"]
    target_path, swapped_path = folder / actors["target"]["clip"], folder / "swapped.mp4"
    encoder = IdentityEncoder()
    # The gallery source-ID retrieval picks from: the quality suite's six identities.
    gallery = {str(seed): gallery_mean(seed, encoder) for pair in suite_pairs(3)
               for seed in pair}
    # The target clip again, exactly as `make_actors` rendered it, now with the source actor.
    clip = Clip(random_actor(target_seed),
                generate_performance(actors["target"]["seconds"], FPS, target_seed),
                random_scene(target_seed), (SIZE, SIZE))
    truths = render_swap_truth(random_actor(source_seed), clip)
    scores = {name: ClipScores(gallery, str(source_seed), str(target_seed))
              for name in ("doppel", "classic")}
    classic = SWAPPERS.get("classic")()
    # The side-by-side video is new generated media: one watermark over the whole picture
    # (each panel's own would mix into none), visible labels on the panels made here.
    marker = Watermarker(new_watermark_id())
    frames = actors["target"]["frames"]
    still_at = {round(frames * (k + 0.5) / STILL_ROWS) for k in range(STILL_ROWS)}
    stills = []
    with open_detector("mediapipe", static=True) as photo_detector:
        _, source = source_photo(source_seed, photo_detector)
    with open_detector("mediapipe", static=False) as target_detector, \
            open_detector("mediapipe", static=False) as doppel_detector, \
            open_detector("mediapipe", static=False) as classic_detector, \
            VideoWriter(folder / COMPARISON, probe(target_path).fps, audio_from=target_path,
                        config=WriterConfig(crf=WEBM_CRF, preset="veryfast"),
                        threads=runtime.threads) as writer:
        frames_in = zip(read_frames(target_path), read_frames(swapped_path), truths, strict=True)
        for target, swapped, truth in tqdm(frames_in, total=frames, desc="measure",
                                           unit="frame", leave=False,
                                           disable=not runtime.progress):
            faces = target_detector.detect(target.rgb)
            classic_rgb = classic.swap_frame(target.rgb, faces[0], source) if faces \
                else target.rgb.copy()
            for name, rgb, detector in (("doppel", swapped.rgb, doppel_detector),
                                        ("classic", classic_rgb, classic_detector)):
                found = detector.detect(rgb)
                face = found[0] if found else None
                embedding = encoder.embed(rgb, face.landmarks) if face is not None else None
                scores[name].add(rgb, truth, face, embedding)
            row = np.concatenate([target.rgb, swapped.rgb, draw_label(classic_rgb, LABEL),
                                  draw_label(truth.rgb, LABEL)], axis=1)
            writer.write(replace(target, rgb=marker.mark(row)))
            if target.index in still_at:
                stills.append(row)
    _record_comparison(folder, marker.payload, runtime)
    _write_stills(folder / STILLS, np.concatenate(stills, axis=0), folder, runtime)
    result = {name: {key: float(value) for key, value in meter.summary().items()}
              for name, meter in scores.items()}
    for name in ("doppel", "classic"):
        row = result[name]
        say(f"  {name}: masked SSIM {row['ssim']:.3f}, source found first in "
            f"{row['source_top1']:.0%} of frames, identity distance to the source "
            f"{row['to_source']:.3f}, expression NME {row['nme_expression_all']:.3f}, flicker "
            f"{row['flicker_ratio']:.2f}")
    return {"scores": result, "columns": list(COLUMNS), "video": COMPARISON,
            "stills": STILLS, "gallery": len(gallery)}


def _swap_claim(folder: Path, watermark_id: int, title: str) -> Any:
    from doppel.provenance import Claim
    from doppel.provenance.manifest import read_manifest

    swap = read_manifest(folder / "swapped.mp4")
    return Claim("swap", watermark_id, swap.consent_ids, swap.model_id,
                 parent=folder / "swapped.mp4", title=title)


def _record_comparison(folder: Path, watermark_id: int, runtime: Runtime) -> None:
    """WebM cannot carry a C2PA manifest: the video's claim goes to the ledger, where
    `doppel verify` finds it by the watermark."""
    from doppel.provenance import ledger
    from doppel.provenance.manifest import manifest_json

    config_dir = runtime.config_dir or folder
    claim = _swap_claim(folder, watermark_id, COMPARISON)
    ledger.record(config_dir / ledger.LEDGER_FILE, watermark_id, Path(COMPARISON),
                  manifest_json(claim, COMPARISON))


def _write_stills(path: Path, rgb: np.ndarray, folder: Path, runtime: Runtime) -> None:
    """The stills are shared (the README shows them): watermarked and signed, naming the swap
    they were cut from."""
    from doppel.media import write_image
    from doppel.provenance import Watermarker, mark_frame, new_watermark_id, sign_file
    from doppel.provenance.keys import local_signer
    from doppel.provenance.ledger import LEDGER_FILE

    config_dir = runtime.config_dir or folder
    marker = Watermarker(new_watermark_id())
    claim = _swap_claim(folder, marker.payload, path.name)
    write_image(path, mark_frame(rgb, marker, LabelConfig(visible_label=False)),
                on_finish=lambda temp: sign_file(temp, claim, local_signer(config_dir / "keys"),
                                                 config_dir / LEDGER_FILE))
