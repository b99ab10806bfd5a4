"""The end-to-end demo: runs every stage that exists and says which are still to come."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from doppel.runtime import Runtime

DEMO_TRAIN_MINUTES = 0.25  # the demo's training run: enough to see the loss fall

# Stages of the pipeline that do not exist yet, with the issue that builds each.
STAGES_TO_COME = (
    ("collect at full speed", "doppel extract meets its quality bars; 720p extraction runs at "
                              "about three quarters of its 60 fps goal (issue 6)"),
    ("train to quality", "doppel train meets its speed bar; 15 minutes of the tiny model "
                         "do not yet beat the classic swap on identity (issue 8)"),
    ("generate at full speed and quality", "doppel swap works end to end; its speed and "
                                           "quality bars are not met yet (issue 9)"),
    ("detect at its accuracy bars", "doppel detect works end to end; on actors it never "
                                    "saw it does not yet reach its accuracy bars (issue 10)"),
)


@dataclass(frozen=True)
class DemoConfig:
    keep: Path | None = field(default=None, metadata={
        "help": "folder to keep the demo's files in (default: a temporary folder, removed)"})


def run(config: DemoConfig, runtime: Runtime) -> int:
    if config.keep is not None:
        config.keep.mkdir(parents=True, exist_ok=True)
        _run_stages(config.keep, runtime)
    else:
        with tempfile.TemporaryDirectory(prefix="doppel-demo-") as folder:
            _run_stages(Path(folder), runtime)
    print("\nStill to come (not faked here):")
    for name, what in STAGES_TO_COME:
        print(f"  - {name}: {what}")
    return 0


def _run_stages(folder: Path, runtime: Runtime) -> None:
    _run_media(folder, runtime)
    _run_labels(folder, runtime)
    _run_synth(folder, runtime)
    _run_collect(folder, runtime)
    _run_train(folder, runtime)
    _run_swap(folder, runtime)
    _run_detect(folder, runtime)
    _run_measure(folder)


def _run_collect(folder: Path, runtime: Runtime) -> None:
    """Collect: the first actor's clip becomes a faceset (its synthetic consent comes along)."""
    from doppel.extract import ExtractConfig, extract
    from doppel.faceset import open_faceset

    print("\nStage: collect (faces tracked, aligned and masked into a faceset)")
    clip = sorted((folder / "actors").glob("*.mp4"))[0]
    config = ExtractConfig(inputs=(clip,), output=folder / "faceset", size=128)
    summary = extract(config, replace(runtime, progress=False))
    print("\n".join(f"  {line}" for line in summary.lines()))
    with open_faceset(config.output, readonly=True) as faceset:
        info = faceset.summary()
        consent = ", ".join(f"{c.kind} ({c.subject})" for c in faceset.consents)
    print(f"  {info.faces} crops of {info.crop_size} px ({info.coverage}), {info.identities} "
          f"identity; consent: {consent}")


def _run_train(folder: Path, runtime: Runtime) -> None:
    """Train: the second actor's faces become a faceset too; a tiny model learns both for a
    few seconds (a real run takes minutes to hours), with a labelled preview."""
    from doppel.extract import ExtractConfig, extract
    from doppel.train.trainer import PREVIEW_DIR, TrainConfig, train

    print("\nStage: train (shared encoder, a decoder per identity; a short run)")
    clip = sorted((folder / "actors").glob("*.mp4"))[1]
    target = folder / "faceset-target"
    extract(ExtractConfig(inputs=(clip,), output=target, size=128), replace(runtime,
                                                                             progress=False))
    config = TrainConfig(source=folder / "faceset", target=target, output=folder / "model",
                         minutes=DEMO_TRAIN_MINUTES, preview_every=10 ** 6)
    summary = train(config, replace(runtime, progress=False))
    print("\n".join(f"  {line}" for line in summary.lines()))
    preview = sorted((config.output / PREVIEW_DIR).glob("*.png"))[-1]
    print(f"  {preview.relative_to(folder)}: source -> source, target -> target, target -> "
          "source (watermarked and labelled)")


def _run_swap(folder: Path, runtime: Runtime) -> None:
    """Generate: the demo's model replaces the second actor's face in its own clip."""
    from doppel.provenance import verify
    from doppel.swap.commands import SwapConfig
    from doppel.swap.run import swap_media

    print("\nStage: swap (the model's source face on the target's clip, labelled)")
    clip = sorted((folder / "actors").glob("*.mp4"))[1]
    config = SwapConfig(input=clip, model=folder / "model", output=folder / "swapped.mp4")
    summary = swap_media(config, replace(runtime, progress=False))
    print("\n".join(f"  {line}" for line in summary.lines()))
    print(f"  {config.output.name}: {verify(config.output).verdict}")
    previews = swap_media(replace(config, preview=2), replace(runtime, progress=False))
    print(f"  {', '.join(path.name for path in previews.written)}: input | output "
          "(a model trained for seconds draws a blur; `doppel bench train-quality` shows "
          "minutes)")


def _run_detect(folder: Path, runtime: Runtime) -> None:
    """Detect: provenance and the forensic detector on the swap and on the clip it came
    from."""
    from doppel.detect.run import detect_media

    print("\nStage: detect (provenance, then the forensic detector on the pixels alone)")
    original = sorted((folder / "actors").glob("*.mp4"))[1]
    for path, output in ((folder / "swapped.mp4", folder / "detect-swapped"),
                         (original, folder / "detect-original")):
        report = detect_media(path, 25, output, False, replace(runtime, progress=False))
        forensic = report["forensic"]
        score = "" if forensic["score"] is None else f", probability swapped " \
            f"{forensic['score']:.2f}"
        print(f"  {path.name}: provenance {report['provenance']['verdict']}; forensic "
              f"{forensic['verdict']}{score} ({forensic['faces']} faces in "
              f"{forensic['frames_read']} frames); {output.name}/report.json, heatmap.png")


def _run_measure(folder: Path) -> None:
    """Measure: the classic landmark swap on one pool pair, scored against the ideal swap
    (the source actor rendered with the target's performance, scene and light)."""
    from doppel.bench.quality import gallery_mean, score_pair, suite_pairs
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder
    from doppel.swap import SWAPPERS

    print("\nStage: measure (a classic landmark swap scored against the ideal swap)")
    (source, target), = suite_pairs(1)
    encoder = IdentityEncoder()
    gallery = {str(seed): gallery_mean(seed, encoder) for seed in (source, target)}
    preview = folder / "swap-preview.png"
    with open_detector("mediapipe", static=True) as detector:
        scores = score_pair(SWAPPERS.get("classic")(), source, target, gallery, encoder,
                            detector, preview)
    print(f"  classic swap of pool actor {source} onto {target}, 30 frames at 256 px: masked "
          f"SSIM {scores['ssim']:.3f}, identity distance to the source "
          f"{scores['to_source']:.3f} (to the target {scores['to_target']:.3f}), source "
          f"found first {scores['source_top1']:.0%} of frames, flicker ratio "
          f"{scores['flicker_ratio']:.2f}")
    print(f"  {preview.name}: source | target | classic swap | ideal swap (watermarked); "
          "`doppel bench quality` runs the whole suite")


def _run_synth(folder: Path, runtime: Runtime) -> None:
    """Synthetic actors: two labelled clips with truth, a contact sheet, all verified."""
    import numpy as np

    from doppel.media import WriterConfig
    from doppel.provenance import verify
    from doppel.synth.commands import (SynthConfig, actor_seeds, write_actor_clip,
                                       write_contact_sheet)

    print("\nStage: synthetic actors (people who do not exist, rendered with ground truth)")
    config = SynthConfig(output=folder / "actors", actors=2, seconds=4.0, size=256,
                         contact_sheet=6, video=WriterConfig(preset="veryfast"))
    config.output.mkdir(parents=True, exist_ok=True)
    for seed in actor_seeds(config.seed, config.actors):
        video, truth_path = write_actor_clip(config.output, seed, config, runtime)
        with np.load(truth_path) as truth:
            yaw = truth["pose"][:, 0]
            blinks = int((np.diff((truth["performance_blink_left"] > 0.5).astype(int)) == 1)
                         .sum())
            frames = len(truth["landmarks"])
        print(f"  {video.name}: {frames} frames, yaw {yaw.min():+.0f}..{yaw.max():+.0f} deg, "
              f"{blinks} blink(s), speech track; truth: 478 landmarks + mask per frame")
        print(f"    {verify(video).verdict}")
    sheet = write_contact_sheet(config.output / "contact-sheet.png", config, runtime)
    print(f"  {sheet.name}: {config.contact_sheet} actors, frontal and turned 30 deg; "
          f"{verify(sheet).verdict}")


def _run_media(folder: Path, runtime: Runtime) -> None:
    """Media I/O: make a calibration clip, cut a piece out of it, check A/V sync survives."""
    from doppel.media import VideoWriter, probe, read_frames
    from doppel.media.testclip import make_test_clip, measure_sync
    from doppel.provenance import Watermarker, new_watermark_id

    print("Stage: media I/O (streaming decode/encode, audio kept in sync)")
    source = make_test_clip(folder / "calibration.mp4", seconds=4.0, flashes=(0.5, 1.5, 2.5, 3.5))
    info = probe(source)
    print(f"  made a test pattern clip {info.width}x{info.height} @ {info.fps} fps, "
          f"{info.frame_count} frames, audio {'yes' if info.has_audio else 'no'}")
    cut = folder / "calibration-cut.mp4"
    first, last = int(info.fps), int(3 * info.fps)  # seconds 1 to 3
    marker = Watermarker(new_watermark_id())  # demo media is generated media: marked
    with VideoWriter(cut, info.fps, audio_from=source, threads=runtime.threads) as writer:
        for frame in read_frames(source, start=first, end=last):
            writer.write(replace(frame, rgb=marker.mark(frame.rgb)))
    out = probe(cut)
    sync = measure_sync(cut)
    offsets = ", ".join(f"{o * 1000:+.1f} ms" for o in sync.offsets) or "none found"
    print(f"  cut seconds 1-3: {out.frame_count} frames, {float(out.duration):.3f} s; "
          f"flash-to-click offsets {offsets} (one frame = {1000 / float(info.fps):.1f} ms)")


def _run_labels(folder: Path, runtime: Runtime) -> None:
    """Label and verify: watermark + visible label + signed manifest, then strip and recover."""
    import numpy as np
    from PIL import Image

    from doppel.media import read_frames, write_image
    from doppel.provenance import (Claim, Watermarker, local_signer, mark_frame,
                                   new_watermark_id, sign_file, verify)
    from doppel.provenance.ledger import LEDGER_FILE
    from doppel.types import Consent

    print("\nStage: label and verify (watermark, visible label, signed C2PA manifest)")
    config_dir = runtime.config_dir or folder
    signer, ledger = local_signer(config_dir / "keys"), config_dir / LEDGER_FILE
    consent = Consent("test pattern", "synthetic: no person is shown", "2026-11-25", "synthetic")
    frame = next(iter(read_frames(folder / "calibration.mp4", start=40, end=41))).rgb
    frame = np.ascontiguousarray(np.asarray(Image.fromarray(frame).resize((1280, 720))))
    watermark_id = new_watermark_id()
    claim = Claim("synthetic", watermark_id, (consent.id,), title="labelled.png")
    labelled = write_image(folder / "labelled.png", mark_frame(frame, Watermarker(watermark_id)),
                           on_finish=lambda temp: sign_file(temp, claim, signer, ledger))
    print(f"  {labelled.name}: {verify(labelled).verdict}")
    screenshot = folder / "screenshot.jpg"  # re-saved: the manifest does not survive this
    Image.open(labelled).convert("RGB").save(screenshot, quality=75)
    report = verify(screenshot, ledger=ledger)
    print(f"  {screenshot.name} (re-saved as JPEG q75): {report.verdict}; ledger finds "
          f"{report.recovered_from or 'nothing'}")
    print(f"  local signing keys: {signer.chain.parent} (untrusted; `doppel verify --trust "
          f"{signer.ca}` trusts them)")
