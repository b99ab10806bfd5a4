"""Extraction: videos and photos in, one person's aligned faces out, into a faceset.

Per source, frames stream through the detector (its video mode for videos), the tracker
(ids that stay with a person; identities sampled on a few good frames of each track), the
cheap filters (size, score, head turn, near-duplicates), alignment, the sharpness filter and
the mask, then into the faceset. Whose faces are kept:
- `--reference IMG`: a track's faces wait (a couple of seconds at most) until the track has an
  identity, then are kept if it is the reference's person, dropped if not.
- no reference: every track is kept while extracting; at the end the tracks are grouped by
  identity and only the largest group (by faces) stays; the others are reported and removed.
- `--all`: everyone stays.

A rerun on the same inputs continues where the last one stopped: each source is tracked from
its start again (so the track ids are the same), and faces already in the faceset are skipped.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.extract.commands import ExtractConfig
from doppel.faces.identity_worker import IdentityWorker
from doppel.faces.select import Reference, group_identities
from doppel.faceset import Faceset, FaceRecord
from doppel.threads import ahead
from doppel.runtime import Runtime
from doppel.types import Face, Frame

log = logging.getLogger("doppel.extract")

SHARPNESS_SIDE = 128  # the inner face is measured at this size, whatever the crop size
WAIT_FOR_IDENTITY = 2.0  # seconds a track's faces wait for its identity with --reference
PROGRESS_EVERY = 25  # frames between progress marks in the faceset

# The tracker's identity of each track it has sampled (None while the samples are computed);
# a track it has not sampled is absent.
Identities = dict[int, tuple[npt.NDArray[np.float32], int] | None]

# Why a face was not kept, in the order the checks run (the summary prints them so).
DROPS = ("too small", "low score", "turned too far", "near-duplicate", "blurred",
         "other person", "no identity", "already in the faceset")


@dataclass
class ExtractSummary:
    """What an extraction did: counts per source and per reason faces were dropped."""

    faceset: Path
    sources: int = 0
    frames: int = 0
    frames_without_faces: int = 0
    images_with_several_faces: int = 0
    found: int = 0
    kept: int = 0
    skipped_sources: list[str] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    other_people: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{self.faceset}: kept {self.kept} of {self.found} faces found in "
                 f"{self.frames} frames of {self.sources} source(s)"]
        if self.frames_without_faces:
            lines.append(f"  frames without a face: {self.frames_without_faces}")
        if self.images_with_several_faces:
            lines.append(f"  photos with several faces: {self.images_with_several_faces}")
        for reason in DROPS:
            if self.dropped[reason]:
                lines.append(f"  dropped, {reason}: {self.dropped[reason]}")
        lines += [f"  {text}" for text in self.other_people + self.notes]
        lines += [f"  already done: {name}" for name in self.skipped_sources]
        return lines


def extract(config: ExtractConfig, runtime: Runtime) -> ExtractSummary:
    """Run `config` (see ExtractConfig); the faceset at config.output is created or grown."""
    from doppel.config import to_dict
    from doppel.extract.consent import consent_from_option, synthetic_consent_of
    from doppel.faces.select import load_reference
    from doppel.faceset import open_faceset
    from doppel.runtime import apply_threads

    apply_threads(runtime.threads)
    sources = list_sources(config.inputs)
    summary = ExtractSummary(config.output)
    with IdentityWorker() as encoder, \
            open_faceset(config.output, create=True, config=to_dict(config)) as faceset:
        reference = (load_reference(config.reference, encoder, config.detector)
                     if config.reference is not None else None)
        if config.consent is not None:
            faceset.add_consent(consent_from_option(config.consent,
                                                    config.subject or config.output.name))
        for path in sources:
            synthetic = synthetic_consent_of(path) if path.suffix != "" else None
            if synthetic is not None:
                faceset.add_consent(synthetic)
            extract_source(path, faceset, config, encoder, reference, summary, runtime)
        if reference is None and not config.all:
            keep_largest_group(faceset, summary)
        if not faceset.consents:
            summary.notes.append("no consent record: training will refuse this faceset until "
                                 "one is added (extract again with --consent)")
    return summary


def list_sources(inputs: tuple[Path, ...]) -> list[Path]:
    """Every file to read, in order: videos and photos as given, a folder's photos by name."""
    from doppel.media import classify, list_images

    sources: list[Path] = []
    for path in inputs:
        path = Path(path)
        if not path.exists():
            raise DoppelError(f"{path} does not exist: give videos, photos or folders of photos")
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise DoppelError(f"{path} holds no photos: give a folder of JPEG/PNG/WebP "
                                  "images")
            sources += images
        else:
            classify(path)  # a one-line error for what is neither video nor image
            sources.append(path)
    return sources


def extract_source(path: Path, faceset: Faceset, config: ExtractConfig,
                   encoder: Any, reference: Reference | None,
                   summary: ExtractSummary, runtime: Runtime) -> None:
    """Add the faces of one video or photo to `faceset`."""
    from doppel.files import hash_file
    from doppel.media import classify, probe

    source_hash = hash_file(path)
    if faceset.progress(source_hash)[1]:
        summary.skipped_sources.append(str(path))
        return
    summary.sources += 1
    still = classify(path) == "image"
    info = probe(path)
    fps = float(info.fps) if info.fps else 30.0
    chooser = Chooser(config, encoder, reference, fps, summary,
                      known=lambda frame, track: faceset.has_face(source_hash, frame, track))
    frames_done = 0
    with _open_detector(config, still) as detector:
        tracker = None if still else _tracker(config, encoder, fps)
        found = ahead(_detect(ahead(_frames(path, runtime), "decode"), detector, tracker),
                       "detect")
        for frame, faces, identities in _progress(found, info.frame_count, path.name, runtime):
            frames_done += 1
            summary.frames_without_faces += not faces
            summary.images_with_several_faces += still and len(faces) > 1
            summary.found += len(faces)
            for record in chooser.take(frame, faces, path, source_hash, identities):
                summary.kept += faceset.add(record)
            if frames_done % PROGRESS_EVERY == 0:
                faceset.mark_progress(source_hash, path, frames_done, False)
    for record in chooser.finish(tracker.finish() if tracker is not None else {}):
        summary.kept += faceset.add(record)
    for track, (embedding, count) in chooser.identities().items():
        faceset.set_track_embedding(source_hash, track, embedding, count)
    summary.frames += frames_done
    faceset.mark_progress(source_hash, path, frames_done, True)


class Chooser:
    """Decides, face by face, what goes into the faceset: filters, near-duplicates, whose
    face it is; and makes the faceset record (crop, mask, sharpness)."""

    def __init__(self, config: ExtractConfig, encoder: Any,
                 reference: Reference | None, fps: float, summary: ExtractSummary,
                 known: Callable[[int, int], bool]) -> None:
        self.config = config
        self.known = known  # (frame, track) -> already in the faceset (a rerun)
        self.encoder = encoder
        self.reference = reference
        self.summary = summary
        self.wait_frames = max(1, round(WAIT_FOR_IDENTITY * fps))
        self.last_kept: dict[int, tuple[int, npt.NDArray[np.float32]]] = {}
        self.verdict: dict[int, bool] = {}  # track -> is the reference's person
        self.pending: dict[int, list[FaceRecord]] = defaultdict(list)
        self.own: dict[int, list[npt.NDArray[np.float32]]] = defaultdict(list)
        self.tracked: dict[int, tuple[npt.NDArray[np.float32], int]] = {}

    def take(self, frame: Frame, faces: list[Face], path: Path, source_hash: str,
             identities: Identities | None) -> Iterator[FaceRecord]:
        """The records of `faces` (of `frame`) that go into the faceset. identities: the
        tracker's identity of each track this frame (None for photos, which are untracked)."""
        for face in faces:
            reason = self.filter(frame, face)
            if reason is not None:
                self.summary.dropped[reason] += 1
                continue
            if self.known(frame.index, face.track):
                # A rerun: kept last time; no need to cut it out again.
                self.summary.dropped["already in the faceset"] += 1
                self.last_kept[face.track] = (frame.index, face.points68)
                self.verdict.setdefault(face.track, True)
                continue
            record = self.record(frame, face, path, source_hash)
            if record is None:
                continue
            self.last_kept[face.track] = (frame.index, face.points68)
            if identities is not None and identities.get(face.track) is not None:
                # The tracker forgets a track a few seconds after it ends: keep its identity.
                self.tracked[face.track] = identities[face.track]
            yield from self.decide(frame, face, record, identities)

    def filter(self, frame: Frame, face: Face) -> str | None:
        config = self.config
        height = float(face.points68[:, 1].max() - face.points68[17:27, 1].min())
        if height < config.min_size:
            return "too small"
        if face.score < config.min_score:
            return "low score"
        if abs(face.pose[0]) > config.max_yaw:
            return "turned too far"
        last = self.last_kept.get(face.track)
        if last is not None:
            if frame.index - last[0] < config.every:
                return "near-duplicate"
            if config.min_motion > 0:
                moved = np.linalg.norm(face.points68 - last[1], axis=1).mean()
                if moved < config.min_motion * height:
                    return "near-duplicate"
        return None

    def record(self, frame: Frame, face: Face, path: Path, source_hash: str
               ) -> FaceRecord | None:
        from doppel.faces.align import align_face
        from doppel.faces.masks import face_hull_mask

        aligned = align_face(frame.rgb, face.points68, self.config.size, self.config.coverage)
        blur = sharpness(aligned.image, aligned.points68)
        if blur < self.config.min_sharpness:
            self.summary.dropped["blurred"] += 1
            return None
        mask = face_hull_mask(aligned.points68, aligned.image.shape[:2], forehead=True)
        return FaceRecord(
            source_path=path, source_hash=source_hash, frame=frame.index, pts=frame.pts,
            box=face.box, landmarks=face.landmarks, points68=face.points68,
            matrix=aligned.matrix, size=aligned.size, coverage=aligned.coverage,
            pose=face.pose, blur=blur, score=face.score, track=face.track,
            crop=aligned.image, mask=mask)

    def decide(self, frame: Frame, face: Face, record: FaceRecord,
               identities: Identities | None) -> Iterator[FaceRecord]:
        if self.reference is None:
            # Grouping by identity at the end needs every kept track to have one: the
            # tracker samples fair views; a track it has none for gets one embedding here.
            if not self.config.all and not self.own[face.track] and (
                    identities is None or face.track not in identities):
                self._sample_identity(frame, face)
            yield record
            return
        verdict = self.verdict.get(face.track)
        if verdict is None:
            identity = self._identity(frame, face, identities)
            if identity is not None:
                verdict = self.reference.matches(identity, self.config.reference_distance)
                self.verdict[face.track] = verdict
        if verdict is None:
            self.pending[face.track].append(record)
            first = self.pending[face.track][0].frame
            if frame.index - first >= self.wait_frames:
                self.summary.dropped["no identity"] += len(self.pending.pop(face.track))
            return
        held = self.pending.pop(face.track, [])
        if verdict:
            yield from held
            yield record
        else:
            self.summary.dropped["other person"] += len(held) + 1

    def finish(self, final: dict[int, tuple[npt.NDArray[np.float32], int]]
               ) -> Iterator[FaceRecord]:
        """At the end of a source, with the tracker's final identities (`FaceTracker.finish`):
        faces still waiting for an identity are kept or dropped by it, or dropped without."""
        for track in set(self.tracked) | set(self.pending):
            if track in final:
                self.tracked[track] = final[track]
        for track, records in self.pending.items():
            known = self.tracked.get(track)
            if known is None or self.reference is None:
                self.summary.dropped["no identity"] += len(records)
            elif self.reference.matches(known[0], self.config.reference_distance):
                yield from records
            else:
                self.summary.dropped["other person"] += len(records)
        self.pending.clear()

    def identities(self) -> dict[int, tuple[npt.NDArray[np.float32], int]]:
        """Each kept track's identity (the tracker's where it has one) and how many
        embeddings made it."""
        found = {track: (np.mean(embeddings, axis=0).astype(np.float32), len(embeddings))
                 for track, embeddings in self.own.items() if embeddings}
        found.update(self.tracked)
        return found

    def _identity(self, frame: Frame, face: Face, identities: Identities | None
                  ) -> npt.NDArray[np.float32] | None:
        """The track's identity if the tracker has one, else one embedding of this face when
        it is a fair view (turned at most 30 degrees)."""
        known = identities.get(face.track) if identities is not None else None
        if known is not None:
            return known[0]
        if identities is not None and face.track in identities:
            return None  # the tracker's samples are on their way
        if abs(face.pose[0]) > 30.0:
            return None
        return self._sample_identity(frame, face)

    def _sample_identity(self, frame: Frame, face: Face) -> npt.NDArray[np.float32] | None:
        embedding = self.encoder.embed(frame.rgb, face.landmarks)
        if embedding is not None:
            self.own[face.track].append(embedding)
        return embedding


def keep_largest_group(faceset: Faceset, summary: ExtractSummary) -> None:
    """Group every track of the faceset by identity (`group_identities`: single linkage
    below the reference distance, 0.5) and remove the faces of all but the group with the most faces; report the others."""
    tracks = faceset.tracks()
    if not tracks:
        return
    counts = Counter((face.source_hash, face.track) for face in faceset.faces(images=False))
    keys = [(t.source_hash, t.track) for t in tracks]
    groups = group_identities([t.embedding for t in tracks])
    sizes = Counter()
    for key, group in zip(keys, groups, strict=True):
        sizes[group] += counts[key]
    if len(sizes) < 2:
        return
    largest = max(sizes, key=lambda g: (sizes[g], -g))
    removed = 0
    for key, group in zip(keys, groups, strict=True):
        if group != largest:
            removed += faceset.remove_track(*key)
    others = sorted((size for g, size in sizes.items() if g != largest), reverse=True)
    summary.kept -= min(removed, summary.kept)
    summary.dropped["other person"] += removed
    summary.other_people.append(
        f"kept the largest group of look-alike faces ({sizes[largest]} faces); "
        f"{len(others)} other person(s) removed ({', '.join(map(str, others))} faces): "
        "use --reference IMG to choose, or --all to keep everyone")


def sharpness(crop: npt.NDArray[np.uint8], points68: npt.NDArray[np.float32]) -> float:
    """Variance of the Laplacian of the inner face (the landmarks' box, brows to chin) resized
    to SHARPNESS_SIDE pixels, in grey: the same number for the same face at any crop size."""
    import cv2

    low = np.maximum(np.floor(points68.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(points68.max(axis=0)).astype(int), crop.shape[1::-1])
    inner = crop[low[1]:high[1], low[0]:high[0]]
    if inner.size == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(inner), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _open_detector(config: ExtractConfig, still: bool):
    from doppel.faces.detectors import open_detector

    return open_detector(config.detector, max_faces=config.max_faces, static=still,
                         min_score=config.min_score)


def _tracker(config: ExtractConfig, encoder: Any, fps: float):
    from doppel.faces.track import FaceTracker, TrackOptions

    return FaceTracker(TrackOptions(smoothing=config.smooth), encoder, fps)


def _frames(path: Path, runtime: Runtime) -> Iterator[Frame]:
    from doppel.media import read_frames

    return read_frames(path, threads=runtime.threads, exact=False)


def _detect(frames: Iterator[Frame], detector: Any, tracker: Any
            ) -> Iterator[tuple[Frame, list[Face], Identities | None]]:
    """Each frame with its faces (track ids set; photos number theirs in order) and, in video,
    the tracker's identity of each of them it has sampled, as it stands after this frame
    (None while the samples are being computed)."""
    for frame in frames:
        faces = detector.detect(frame.rgb)
        if tracker is None:
            yield frame, [replace(face, track=index) for index, face in enumerate(faces)], None
            continue
        faces = tracker.update(frame.rgb, faces)
        yield frame, faces, {face.track: tracker.identity(face.track) for face in faces
                             if tracker.sampled(face.track)}


def _progress(frames: Iterator[Frame], total: int | None, name: str, runtime: Runtime):
    from tqdm import tqdm

    return tqdm(frames, total=total, desc=name, unit="frame", leave=False,
                disable=not runtime.progress)
