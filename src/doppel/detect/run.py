"""`doppel detect FILE`: is this picture or video a face swap?

Two separate answers. Provenance (skipped with --forensic-only): the C2PA manifest and the
invisible watermark, as `doppel verify` reads them. Forensics: the detector's judgement of
every tracked face from its pixels alone: per face, per frame (its most suspicious face), per
track and for the file. The file's score is robust to a few bad frames: each track's median
probability, then the most suspicious track (a swap usually replaces one person of several),
counting tracks of at least MIN_TRACK_FACES faces when there are any. Scores between the
INCONCLUSIVE bounds give "inconclusive" rather than a guess.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.runtime import Runtime

log = logging.getLogger("doppel.detect")

THRESHOLD = 0.5  # probability of "swapped" from which a file is called swapped
INCONCLUSIVE = (0.35, 0.65)  # file scores in here are called inconclusive
MIN_TRACK_FACES = 3
BATCH = 16  # faces scored at once


@dataclass
class FaceScore:
    frame: int
    track: int
    box: tuple[float, float, float, float]
    probability: float


@dataclass
class ForensicReport:
    """What the detector found in one file."""

    faces: list[FaceScore] = field(default_factory=list)
    frames_read: int = 0
    heatmap: Path | None = None

    def tracks(self) -> dict[int, list[float]]:
        found: dict[int, list[float]] = defaultdict(list)
        for face in self.faces:
            found[face.track].append(face.probability)
        return dict(found)

    def score(self) -> float | None:
        """The file's probability of being swapped (None: no face)."""
        tracks = self.tracks()
        if not tracks:
            return None
        long = [scores for scores in tracks.values() if len(scores) >= MIN_TRACK_FACES]
        return float(max(np.median(scores) for scores in (long or list(tracks.values()))))

    def verdict(self) -> str:
        score = self.score()
        if score is None:
            return "no face found"
        if INCONCLUSIVE[0] <= score <= INCONCLUSIVE[1]:
            return "inconclusive"
        return "swapped" if score >= THRESHOLD else "real"


def detect_media(path: Path, frames: int, output: Path | None, forensic_only: bool,
                 runtime: Runtime, weights: Path | None = None) -> dict[str, Any]:
    """The JSON-ready report for `path` (and, with `output`, report.json + heatmap.png
    there)."""
    from doppel.detect.forensic import ForensicDetector
    from doppel.runtime import resolve_device
    from doppel.threads import ahead, one_model_thread
    from doppel.detect.train import TRAINED_ON
    from doppel.media import classify

    path = Path(path)
    if not path.is_file():
        raise DoppelError(f"{path} does not exist: give a video or a photo to check")
    kind = classify(path)
    if kind not in ("video", "image"):
        raise DoppelError(f"{path} is neither a video nor a photo doppel reads")
    report: dict[str, Any] = {"file": str(path)}
    if not forensic_only:
        from doppel.provenance import report_dict, verify

        report["provenance"] = report_dict(verify(path))
    detector = ForensicDetector(weights, resolve_device(runtime.device))
    forensic = ForensicReport()
    best: tuple[float, Any, Any] | None = None  # probability, frame, aligned face
    # Decoding and mediapipe run ahead on a thread of their own while the network scores
    # the faces on one BLAS thread: both cores busy (27 -> 32.5 faces/s on the speed
    # suite's 4-s 720p clip, measured).
    with one_model_thread(runtime.threads):
        for index, rgb, faces in ahead(_faces_of(path, kind, frames), "faces"):
            forensic.frames_read += 1
            scored = _score_faces(detector, rgb, faces)
            for face, (probability, aligned) in zip(faces, scored):
                forensic.faces.append(FaceScore(index, face.track,
                                                tuple(map(float, face.box)), probability))
                if best is None or probability > best[0]:
                    best = (probability, rgb, aligned)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        if best is not None:
            forensic.heatmap = output / "heatmap.png"
            _write_heatmap(forensic.heatmap, best[1], best[2],
                           detector.heatmap(best[2].image))
    report["forensic"] = _forensic_dict(forensic, detector.meta, TRAINED_ON)
    if output is not None:
        from doppel.files import atomic_path

        with atomic_path(output / "report.json") as temp:
            temp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _faces_of(path: Path, kind: str, count: int) -> Any:
    """(frame index, RGB, tracked faces) for the frames to check: every frame, or `count`
    spread over a video."""
    from doppel.faces.detectors import open_detector
    from doppel.faces.track import FaceTracker, TrackOptions
    from doppel.media import probe, read_frames, read_image

    if kind == "image":
        rgb = read_image(path)
        with open_detector("mediapipe", max_faces=8, static=True) as detector:
            faces = [replace(face, track=number)
                     for number, face in enumerate(detector.detect(rgb))]
        yield 0, rgb, faces
        return
    info = probe(path)
    total = info.frame_count
    step = max(1, total // count) if count and total else 1
    fps = float(info.fps or Fraction(25)) / step
    with open_detector("mediapipe", max_faces=8, static=step > 1) as detector:
        tracker = FaceTracker(TrackOptions(smoothing=False), None, fps)
        for frame in read_frames(path, 0, None, step):
            if count and frame.index >= step * count:
                break
            yield frame.index, frame.rgb, tracker.update(frame.rgb, detector.detect(frame.rgb))


def _score_faces(detector: Any, rgb: npt.NDArray[np.uint8], faces: list[Any]
                 ) -> list[tuple[float, Any]]:
    from doppel.detect.forensic import probability
    from doppel.detect import COVERAGE, INPUT_SIZE
    from doppel.faces.align import align_face

    aligned = [align_face(rgb, face.points68, INPUT_SIZE, COVERAGE) for face in faces]
    results = []
    for start in range(0, len(aligned), BATCH):
        part = aligned[start:start + BATCH]
        logits = detector.score(np.stack([face.image for face in part]))
        results += [(float(probability(logit)), face) for logit, face in zip(logits, part)]
    return results


def _write_heatmap(path: Path, rgb: npt.NDArray[np.uint8], aligned: Any,
                   heat: npt.NDArray[np.float32]) -> None:
    """The frame with the detector's heatmap over the face (red: the pixels its verdict
    rests on most), watermarked and labelled like every picture doppel makes."""
    import cv2

    from doppel.faces.align import paste_face
    from doppel.media import write_image
    from doppel.provenance import LabelConfig, Watermarker, mark_frame, new_watermark_id

    size = aligned.image.shape[0]
    # scaled to a high percentile, not the peak: gradients have a few sharp peaks that would
    # leave the rest of the map dark; the colour fades out where the map is weak
    top = max(float(np.percentile(heat, 99)), 1e-12)
    weights = np.clip(cv2.resize(heat / top, (size, size), interpolation=cv2.INTER_LINEAR),
                      0.0, 1.0)[..., None]
    colours = cv2.applyColorMap(np.uint8(255 * weights[..., 0]), cv2.COLORMAP_JET)[..., ::-1]
    alpha = 0.7 * weights
    overlay = ((1 - alpha) * aligned.image + alpha * colours).astype(np.uint8)
    shown = paste_face(rgb, overlay, aligned.matrix)
    marker = Watermarker(new_watermark_id("doppel-detect"))
    write_image(path, mark_frame(shown, marker, LabelConfig(label_text="doppel detect heatmap")))


def _forensic_dict(forensic: ForensicReport, meta: dict[str, Any], trained_on: str
                   ) -> dict[str, Any]:
    score = forensic.score()
    by_frame: dict[int, list[FaceScore]] = defaultdict(list)
    for face in forensic.faces:
        by_frame[face.frame].append(face)
    return {
        "verdict": forensic.verdict(),
        "score": score,
        "threshold": THRESHOLD,
        "inconclusive": list(INCONCLUSIVE),
        "aggregation": "per track the median face probability; the most suspicious track "
                       f"of those with at least {MIN_TRACK_FACES} faces",
        "frames_read": forensic.frames_read,
        "faces": len(forensic.faces),
        "tracks": [{"track": track, "faces": len(scores), "score": float(np.median(scores))}
                   for track, scores in sorted(forensic.tracks().items())],
        "frames": [{"frame": index, "score": max(face.probability for face in faces),
                    "faces": [{"track": face.track, "box": list(face.box),
                               "score": face.probability} for face in faces]}
                   for index, faces in sorted(by_frame.items())],
        "heatmap": str(forensic.heatmap) if forensic.heatmap else None,
        "detector": {"network": meta.get("network"), "steps": meta.get("steps"),
                     "trained_on": meta.get("trained_on", trained_on)},
        "note": "the forensic score judges pixels only and is separate from provenance; the "
                f"detector was trained on {meta.get('trained_on', trained_on)}",
    }
