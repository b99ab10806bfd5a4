"""`doppel swap`: a model made by `doppel train` replaces faces in a video, a photo or a folder
of photos, and every output is labelled (watermark, visible label, signed C2PA manifest of kind
"swap" with the input as its parent and the model's consent records).

Video streams through four threads: decoding, then detection + tracking (mediapipe's video
mode; landmarks smoothed by default), then on the caller's thread the choice of faces and the
model (FRAMES_PER_BATCH frames' faces at once) and the paste-back, then labelling and encoding
(x264 encodes on threads of its own); memory stays flat with length. Plain 8-bit 4:2:0 video
is re-encoded from its own planes (doppel.types.Yuv420): only the pasted faces' boxes and the
label are converted back from RGB, so every other pixel goes to x264 exactly as decoded, with
the watermark added to its luma, and the file keeps its colour matrix. Which faces are replaced:
- `--face target` (default): faces whose identity (dlib embedding, one sample when a track
  first appears, more while it is undecided) is within `--reference-distance` of the model's
  target person (`--reference IMG`: of the person in that photo);
- `--face all`: every face; `--face N`: the face with track number N.
Frames without a face to replace pass through unchanged (and are still labelled: the file as a
whole is generated).
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.runtime import Runtime
from doppel.swap.commands import SwapConfig
from doppel.threads import one_model_thread
from doppel.types import Face, Frame, PixelBox

log = logging.getLogger("doppel.swap")

PREVIEW_SUFFIX = ".png"
# Video frames whose faces go through the network together: the batch makes each face
# cheaper (see ModelSwapper.swap_frames) and, four frames behind decoding, costs no waiting.
FRAMES_PER_BATCH = 4
T = TypeVar("T")


@dataclass
class SwapSummary:
    """What a swap did."""

    output: Path
    frames: int = 0
    frames_swapped: int = 0
    faces_swapped: int = 0
    frames_without_faces: int = 0
    faces_left: int = 0  # faces found but not chosen (other people)
    seconds: float = 0.0
    closest: float | None = None  # smallest identity distance to the chosen person seen
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        rate = f", {self.frames / self.seconds:.1f} frames/s" if self.seconds > 0 else ""
        lines = [f"{self.output}: {self.faces_swapped} face(s) replaced in "
                 f"{self.frames_swapped} of {self.frames} frame(s){rate}"]
        if self.frames_without_faces:
            lines.append(f"  frames without a face (unchanged): {self.frames_without_faces}")
        if self.faces_left:
            lines.append(f"  faces of other people left as they were: {self.faces_left}")
        if len(self.written) > 1:
            lines += [f"  wrote {path}" for path in self.written]
        lines += [f"  {note}" for note in self.notes]
        return lines


def swap_media(config: SwapConfig, runtime: Runtime) -> SwapSummary:
    """Run `config`; the output (or previews) are written and labelled."""
    from doppel.runtime import resolve_device

    device = resolve_device(runtime.device)
    with one_model_thread(runtime.threads):
        return _swap_media(config, runtime, device)


def _swap_media(config: SwapConfig, runtime: Runtime, device: str) -> SwapSummary:
    from doppel.media import classify

    if not config.input.exists():
        raise DoppelError(f"input {config.input} does not exist: give a video, a photo or a "
                          "folder of photos")
    kind = classify(config.input)
    video = kind == "video" and not config.preview
    if video:
        _check_output(config.output, config.overwrite)
    with _VideoDetector(config, start=video) as detector:
        swapper, chooser, labeller = _prepare(config, runtime, device)
        summary = SwapSummary(config.output)
        started = time.perf_counter()
        if config.preview:
            _previews(config, kind, swapper, chooser, labeller, summary)
        elif video:
            _swap_video(config, swapper, chooser, labeller, summary, runtime, detector)
        elif kind == "image":
            _check_output(config.output, config.overwrite)
            with _photo_detector(config) as photo_detector:
                _swap_photo(config.input, config.output, photo_detector, swapper, chooser,
                            labeller, summary)
        else:
            _swap_folder(config, swapper, chooser, labeller, summary)
    summary.seconds = time.perf_counter() - started
    summary.notes += chooser.notes(summary)
    return summary


def _prepare(config: SwapConfig, runtime: Runtime, device: str
             ) -> tuple[Any, FaceChooser, Labeller]:
    """The model swapper, the face chooser and the labeller for `config`."""
    from doppel.swap.model import ModelSwapper

    swapper = ModelSwapper(config.model, config.blend, config.colour, config.mask,
                           config.erode, config.feather, device)
    if "torch" in sys.modules:  # the network is torch's (a larger preset)
        import torch

        torch.set_num_threads(1)
    return swapper, FaceChooser(config, swapper.meta), Labeller(config, swapper.meta, runtime)


class FaceChooser:
    """Decides which faces of a frame are replaced (see the module docstring)."""

    def __init__(self, config: SwapConfig, meta: dict[str, Any]) -> None:
        self.config = config
        self.mode = "track" if config.face.isdigit() else config.face
        self.identity: npt.NDArray[np.float32] | None = None
        self.decided: dict[int, bool] = {}
        self.closest: float | None = None
        self._encoder: Any = None
        self._loading: Any = None  # a Future of the encoder, loading on a thread
        self._notes: list[str] = []
        if self.mode != "target":
            return
        if config.reference is not None:
            from doppel.faces.select import load_reference

            self.identity = load_reference(config.reference, self.encoder()).embedding
            return
        stored = meta.get("identities", {}).get("target", {}).get("embedding")
        if stored is None:
            self.mode = "all"
            self._notes.append("the model holds no identity of its target person (its target "
                               "faceset had none): every face was replaced; choose with "
                               "--reference IMG or --face N")
        else:
            self.identity = np.asarray(stored, np.float32)
            from doppel.faces.identity import IdentityEncoder
            from doppel.threads import started

            # dlib's models take ~0.1 s to load: beside mediapipe's start and the first
            # frames' decoding rather than before the first frame's decision
            self._loading = started(IdentityEncoder, "identity")

    def encoder(self) -> Any:
        if self._encoder is None:
            from doppel.faces.identity import IdentityEncoder

            self._encoder = self._loading.result() if self._loading is not None \
                else IdentityEncoder()
        return self._encoder

    def choose(self, rgb: npt.NDArray[np.uint8], faces: list[Face]) -> list[Face]:
        """The faces of this frame (tracked: ids stay with people) to replace."""
        if self.mode == "all":
            return list(faces)
        if self.mode == "track":
            return [face for face in faces if face.track == int(self.config.face)]
        return [face for face in faces if self._is_target(rgb, face)]

    def _is_target(self, rgb: npt.NDArray[np.uint8], face: Face) -> bool:
        from doppel.faces.identity import identity_distance

        if face.track in self.decided:
            return self.decided[face.track]
        embedding = self.encoder().embed(rgb, face.landmarks)
        if embedding is None:
            return False  # undecided: sampled again on the track's next frame
        distance = float(identity_distance(embedding, self.identity))
        self.closest = distance if self.closest is None else min(self.closest, distance)
        self.decided[face.track] = distance <= self.config.reference_distance
        return self.decided[face.track]

    def notes(self, summary: SwapSummary) -> list[str]:
        notes = list(self._notes)
        if self.mode == "target" and summary.faces_swapped == 0 and self.decided:
            who = "the reference photo's person" if self.config.reference else \
                "the model's target person"
            notes.append(f"warning: no face matched {who} (closest identity distance "
                         f"{self.closest:.2f}, limit {self.config.reference_distance:.2f}): is "
                         "this the right model for this footage? --face all replaces every "
                         "face")
        return notes


class Labeller:
    """Marks every output picture and signs every output file: kind "swap", the input as
    parent, the model's id and consent records."""

    def __init__(self, config: SwapConfig, meta: dict[str, Any], runtime: Runtime) -> None:
        from doppel.provenance.keys import signer_for

        from doppel.files import hash_file
        from doppel.train.modelfile import MODEL_FILE

        self.config = config
        # The weights' content names the model: the same file, the same id, wherever it is.
        self.model_id = f"doppel-{meta.get('architecture')}-{meta.get('preset')}-" \
            f"{hash_file(Path(config.model) / MODEL_FILE)[:16]}"
        self.consents = tuple(sorted(meta.get("consents", {})))
        self.config_dir = runtime.config_dir or Path(config.output).resolve().parent
        self.signer = signer_for(config.signing, self.config_dir)

    def start(self, title: str, parent: Path, picture: npt.NDArray[np.uint8]
              ) -> tuple[Any, Any]:
        """(marker, on_finish) for one output file named `title`, edited from `parent`, whose
        first picture is `picture` (RGB)."""
        from doppel.provenance import Claim, Watermarker, sign_file
        from doppel.provenance.ledger import LEDGER_FILE

        watermark_id = self.watermark_id(picture)
        claim = Claim("swap", watermark_id, self.consents, model_id=self.model_id,
                      parent=parent, title=title)
        ledger = self.config_dir / LEDGER_FILE
        return (Watermarker(watermark_id),
                lambda temp: sign_file(temp, claim, self.signer, ledger))

    def watermark_id(self, picture: npt.NDArray[np.uint8]) -> int:
        """A new watermark id, unless `picture` already carries doppel's watermark (a swap of
        a doppel output: a synthetic actor's clip, an earlier swap): then that one. Two marks
        of different payloads on one picture cancel each other where their bits differ
        (measured: neither is found after a second), so the output keeps the input's mark,
        made stronger, and its manifest, which names the input as its parent, says so."""
        from doppel.provenance import TOOL_ID, detect, luma, new_watermark_id

        found = detect(luma(picture)).payload
        if found is not None and found >> 56 == TOOL_ID:
            return found
        return new_watermark_id(self.model_id)

    def mark(self, rgb: npt.NDArray[np.uint8], marker: Any) -> npt.NDArray[np.uint8]:
        from doppel.provenance import mark_frame

        return mark_frame(rgb, marker, self.config.label)

    def mark_video(self, frame: Frame, changed: list[PixelBox], marker: Any) -> Frame:
        """A video frame marked; one kept as stored is rewritten only where `changed`."""
        from doppel.provenance import mark_video_frame

        return mark_video_frame(frame, changed, marker, self.config.label)


def swap_faces(frames: list[tuple[npt.NDArray[np.uint8], list[Face]]], swapper: Any,
               chooser: FaceChooser, summary: SwapSummary
               ) -> list[tuple[npt.NDArray[np.uint8], list[PixelBox]]]:
    """Each frame (RGB) with its chosen faces replaced, and the boxes where it may have
    changed (see ModelSwapper.swap_frames: the faces of all `frames` are drawn in one batch);
    the summary counts what happened."""
    chosen = []
    for rgb, faces in frames:
        picked = chooser.choose(rgb, faces) if faces else []
        summary.frames += 1
        summary.frames_without_faces += not faces
        summary.faces_left += len(faces) - len(picked)
        summary.faces_swapped += len(picked)
        summary.frames_swapped += bool(picked)
        chosen.append((rgb, picked))
    return swapper.swap_frames(chosen)


def batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last may be shorter)."""
    while batch := list(itertools.islice(items, size)):
        yield batch


def _swap_video(config: SwapConfig, swapper: Any, chooser: FaceChooser, labeller: Labeller,
                summary: SwapSummary, runtime: Runtime, detector: _VideoDetector) -> None:
    """The video's frames through the pipeline (see the module docstring)."""
    from tqdm import tqdm

    from doppel.media import VideoWriter, probe, read_frames
    from doppel.threads import Behind, ahead, started

    info = probe(config.input)
    fps = info.fps or Fraction(25)
    first, last = _frame_range(config, fps, info.frame_count)
    # Decoding starts now, on its thread: the first frame (whose watermark, if any, the
    # output keeps) is taken from the same stream. Frames stay as stored where nothing
    # changes them (Frame.yuv): bit-exact outside the faces and the label, and no conversion
    # of the whole picture back from RGB.
    decoded = ahead(read_frames(config.input, first, last, threads=runtime.threads,
                                keep_yuv=True), "decode")
    opening = next(decoded, None)
    if opening is None:
        raise DoppelError(f"{config.input} has no frame to read at {config.start:g} s")
    # Looking for the input's own watermark (~60 ms at 720p) goes on beside the first frames'
    # detection and swap; the first frame to encode waits for it.
    labels = started(labeller.start, "label", config.output.name, config.input, opening.rgb)
    swapper.temporal = True
    with VideoWriter(config.output, fps, audio_from=config.input if info.has_audio else None,
                     config=config.video, threads=runtime.threads, inputs=(config.input,),
                     on_finish=lambda temp: labels.result()[1](temp)) as writer:
        found = ahead(detector.tracked(itertools.chain([opening], decoded), float(fps)),
                      "detect")

        def label_and_encode(item: tuple[Frame, list[PixelBox]]) -> None:
            writer.write(labeller.mark_video(*item, labels.result()[0]))

        with Behind(label_and_encode, "encode", pending=2 * FRAMES_PER_BATCH) as encode:
            shown = tqdm(found, total=(last or info.frame_count) - first,
                         desc=config.input.name, unit="frame", leave=False,
                         disable=not runtime.progress)
            for batch in batches(iter(shown), FRAMES_PER_BATCH):
                swapped = swap_faces([(frame.rgb, faces) for frame, faces in batch], swapper,
                                     chooser, summary)
                for (frame, _), (rgb, changed) in zip(batch, swapped, strict=True):
                    encode.put((replace(frame, rgb=rgb), changed))
    summary.written.append(config.output)


def _frame_range(config: SwapConfig, fps: Fraction, count: int) -> tuple[int, int | None]:
    first = round(config.start * fps)
    last = round(config.end * fps) if config.end is not None else None
    if first >= count:
        raise DoppelError(f"--start {config.start:g} s is past the end of {config.input} "
                          f"({float(count / fps):.1f} s)")
    return first, last


class _VideoDetector:
    """Mediapipe's video mode for a swap, starting on a thread of its own on entering (when
    `start`): its graphs take ~0.2 s to build, beside the model's loading and the rest of the
    start. `tracked` runs it, with the tracker (geometry only: identity is the chooser's
    business), on whichever thread iterates it. Leaving waits for the start (native stderr is
    silenced while the graphs build: an error must not be printed before then) and closes."""

    def __init__(self, config: SwapConfig, start: bool) -> None:
        self.config, self.start = config, start
        self.opening: Any = None

    def __enter__(self) -> _VideoDetector:
        if self.start:
            from doppel.faces.detectors import open_detector
            from doppel.threads import started

            self.opening = started(open_detector, "mediapipe", "mediapipe",
                                   max_faces=self.config.max_faces, static=False)
        return self

    def tracked(self, frames: Iterator[Frame], fps: float
                ) -> Iterator[tuple[Frame, list[Face]]]:
        from doppel.faces.track import FaceTracker, TrackOptions

        detector = self.opening.result()
        tracker = FaceTracker(TrackOptions(smoothing=self.config.smooth), None, fps)
        for frame in frames:
            yield frame, tracker.update(frame.rgb, detector.detect(frame.rgb))

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if self.opening is None:
            return
        try:
            detector = self.opening.result()
        except Exception:
            if kind is None:
                raise
            return  # a failed start: its error is already on its way up
        detector.close()


def _photo_detector(config: SwapConfig) -> Any:
    from doppel.faces.detectors import open_detector

    return open_detector("mediapipe", max_faces=config.max_faces, static=True)


def _swap_picture(rgb: npt.NDArray[np.uint8], detector: Any, swapper: Any,
                  chooser: FaceChooser, summary: SwapSummary) -> npt.NDArray[np.uint8]:
    """One still picture swapped on its own: its faces numbered in order, nothing carried
    over from the pictures before it (identity decisions, colour statistics)."""
    faces = [replace(face, track=index) for index, face in enumerate(detector.detect(rgb))]
    chooser.decided.clear()
    swapper.forget()
    return swap_faces([(rgb, faces)], swapper, chooser, summary)[0][0]


def _swap_photo(path: Path, output: Path, detector: Any, swapper: Any, chooser: FaceChooser,
                labeller: Labeller, summary: SwapSummary) -> None:
    from doppel.media import read_image, write_image

    rgb = read_image(path)
    swapped = _swap_picture(rgb, detector, swapper, chooser, summary)
    marker, on_finish = labeller.start(output.name, path, rgb)
    write_image(output, labeller.mark(swapped, marker), on_finish=on_finish)
    summary.written.append(output)


def _swap_folder(config: SwapConfig, swapper: Any, chooser: FaceChooser, labeller: Labeller,
                 summary: SwapSummary) -> None:
    from doppel.media import list_images

    photos = list_images(config.input)
    if not photos:
        raise DoppelError(f"{config.input} holds no photos to swap")
    if config.output.exists() and not config.output.is_dir():
        raise DoppelError(f"{config.output} is a file: for a folder of photos give an output "
                          "folder")
    config.output.mkdir(parents=True, exist_ok=True)
    with _photo_detector(config) as detector:
        for photo in photos:
            output = config.output / photo.name
            _check_output(output, config.overwrite)
            _swap_photo(photo, output, detector, swapper, chooser, labeller, summary)


def _previews(config: SwapConfig, kind: str, swapper: Any, chooser: FaceChooser,
              labeller: Labeller, summary: SwapSummary) -> None:
    """N frames spread over the range, each input | output, as labelled PNGs beside the
    output, without touching the rest of the clip."""
    from doppel.media import list_images, probe, read_frames, read_image, write_image

    if kind == "video":
        info = probe(config.input)
        fps = info.fps or Fraction(25)
        first, last = _frame_range(config, fps, info.frame_count)
        last = min(last or info.frame_count, info.frame_count)
        picks = sorted({first + (2 * k + 1) * (last - first) // (2 * config.preview)
                        for k in range(config.preview)})
        pictures = ((index, next(read_frames(config.input, index, index + 1)).rgb)
                    for index in picks)
    else:
        photos = [config.input] if kind == "image" else list_images(config.input)
        pictures = ((index, read_image(photo))
                    for index, photo in enumerate(photos[:config.preview]))
    stem = config.output.with_suffix("") if config.output.suffix else config.output
    with _photo_detector(config) as detector:
        for number, (index, rgb) in enumerate(pictures, 1):
            swapped = _swap_picture(rgb, detector, swapper, chooser, summary)
            path = stem.parent / f"{stem.name}.preview-{number}{PREVIEW_SUFFIX}"
            _check_output(path, True)
            marker, on_finish = labeller.start(path.name, config.input, rgb)
            write_image(path, labeller.mark(np.concatenate([rgb, swapped], axis=1), marker),
                        on_finish=on_finish)
            log.info("preview of frame %d: %s", index, path)
            summary.written.append(path)


def _check_output(path: Path, overwrite: bool) -> None:
    from doppel.files import check_output_path
    from doppel.provenance.manifest import mime_type

    check_output_path(path)
    mime_type(path)  # a swap is signed: refuse a format that cannot be before any work
    if path.exists() and not overwrite:
        raise DoppelError(f"{path} exists: choose another output, or add --overwrite")
