"""One pipeline stage in a fresh process, so the peak RSS it reports is that stage's alone.

    python -m doppel.bench._stage STAGE CLIP SOURCE WORK

STAGE: decode, encode, faces, extract, swap or swap-model (see doppel.bench.speed). CLIP: a video;
SOURCE: a picture of the source face (swap), or a model folder (swap-model); WORK: a folder
for outputs. Prints one JSON line on stdout:
frames, faces, seconds (from the start of the stage's work, models loading included) and the
process's peak RSS in KiB.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from doppel.bench._child import peak_rss_kib


def decode(clip: Path, source: Path, work: Path) -> tuple[int, int]:
    from doppel.media import read_frames

    frames = sum(1 for _ in read_frames(clip, exact=False))
    return frames, 0


def encode(clip: Path, source: Path, work: Path) -> tuple[int, int]:
    """Decoding and encoding again as `doppel swap` writes (H.264, x264 veryfast, crf 18,
    from the stored planes, as swap writes every pixel it does not change), nothing between:
    the floor under every swap's rate, and the issue's reference point for the swap bar (x264
    veryfast alone: ~54 frames/s on the machine it was written on)."""
    from doppel.media import VideoWriter, probe, read_frames
    from doppel.swap.commands import SWAP_VIDEO

    frames = 0
    with VideoWriter(work / "encode.mp4", probe(clip).fps, config=SWAP_VIDEO) as writer:
        for frame in read_frames(clip, keep_yuv=True):
            writer.write(frame)
            frames += 1
    return frames, 0


def faces(clip: Path, source: Path, work: Path) -> tuple[int, int]:
    """Decoding and mediapipe in video mode: face boxes, 478 landmarks and head pose."""
    from doppel.faces import open_detector
    from doppel.media import read_frames

    frames = found = 0
    with open_detector("mediapipe", static=False) as detector:
        for frame in read_frames(clip, exact=False):
            frames += 1
            found += len(detector.detect(frame.rgb))
    return frames, found


def extract(clip: Path, source: Path, work: Path) -> tuple[int, int]:
    """`doppel extract CLIP -o FACESET` with default settings (256-px crops)."""
    from doppel.extract import ExtractConfig
    from doppel.extract import extract as run
    from doppel.runtime import Runtime

    summary = run(ExtractConfig(inputs=(clip,), output=work / "faceset",
                                consent="benchmark run on synthetic actors"),
                  Runtime(progress=False))
    return summary.frames, summary.kept


def swap(clip: Path, source: Path, work: Path) -> tuple[int, int]:
    """What `doppel swap` does with the classic swapper, through the library (the command
    comes with the Generate issue): decode, find the target face (video mode), swap it,
    label the frame (watermark + visible label), encode H.264."""
    from doppel.errors import DoppelError
    from doppel.faces import open_detector
    from doppel.media import VideoWriter, probe, read_frames, read_image
    from doppel.provenance import LabelConfig, Watermarker, mark_frame, new_watermark_id
    from doppel.swap import SWAPPERS, prepare_source
    from doppel.types import Frame

    picture = read_image(source)
    with open_detector("mediapipe", static=True) as photo:
        found = photo.detect(picture)
    if not found:
        raise DoppelError(f"no face in {source}")
    source_face = prepare_source(picture, found[0].landmarks)
    swapper = SWAPPERS.get("classic")()
    marker, label = Watermarker(new_watermark_id()), LabelConfig()
    frames = swapped = 0
    with open_detector("mediapipe", static=False) as detector, \
            VideoWriter(work / "swap.mp4", probe(clip).fps) as writer:
        for frame in read_frames(clip):
            faces = detector.detect(frame.rgb)
            rgb = frame.rgb
            if faces:
                rgb = swapper.swap_frame(rgb, faces[0], source_face)
                swapped += 1
            writer.write(Frame(frame.index, frame.pts, mark_frame(rgb, marker, label)))
            frames += 1
    return frames, swapped


def swap_model(clip: Path, model: Path, work: Path) -> tuple[int, int]:
    """`doppel swap CLIP --model MODEL -o OUT` with default settings (x264 veryfast)."""
    from doppel.runtime import Runtime
    from doppel.swap.commands import SwapConfig
    from doppel.swap.run import swap_media

    summary = swap_media(SwapConfig(input=clip, model=model, output=work / "swap.mp4"),
                         Runtime(progress=False))
    return summary.frames, summary.faces_swapped


STAGES = {"decode": decode, "encode": encode, "faces": faces, "extract": extract, "swap": swap,
          "swap-model": swap_model}


def main(argv: list[str]) -> None:
    stage, clip, source, work = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    started = time.perf_counter()
    frames, found = STAGES[stage](clip, source, work)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"stage": stage, "frames": frames, "faces": found,
                              "seconds": seconds, "peak_rss_kib": peak_rss_kib()}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
