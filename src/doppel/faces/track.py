"""Face tracks across video frames: an id per person that survives faces crossing each other and
a face leaving the frame and coming back, with optional landmark smoothing per track.

Each frame's detections are matched to the tracks' predicted positions (the face's centre at
the median velocity of its last steps) by a Hungarian assignment on a cost that mixes box
overlap and landmark distance. With an identity encoder (doppel.faces.identity, ~80 ms a face
on a CPU) the tracker also keeps a mean identity per track, averaged from a few frames where
the face is alone, inside the frame and near frontal, and uses it where geometry cannot decide:
a face that is not where any track predicts (it gets a lost track's id back when its embedding
is close enough), a track picked up again after frames without a detection, and matches with a
rival (overlapping faces). Embeddings are computed only then, never on every frame.

Without an encoder the tracker works by geometry alone: a face hidden or missed for up to
`coast` seconds keeps its id when it comes back near where its track was heading; a face away
for longer, or one that comes back somewhere else (re-entering the frame), gets a new id; and
faces that trade places, while both hidden or while overlapping, may trade ids.

Positions are pixels (pixel [i, j]'s centre is (j, i)); time is counted in frames, converted
from the options' seconds with the video's frame rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from doppel.config import check_fields
from doppel.faces.identity import SAME_PERSON_DISTANCE, identity_distance
from doppel.types import Face, Frame

Box = tuple[float, float, float, float]
Points = npt.NDArray[np.float64]
Embedding = npt.NDArray[np.float32]

# A track's velocity is the median of its last few steps: enough to outvote one bad face,
# few enough to follow a face that speeds up (one leaving the frame).
_HISTORY = 4
# A face whose box overlaps another's by more than this IoU is partly covered or covering; its
# centre counts for the track's motion only within _DRIFT face heights of the prediction.
_CROWDED = 0.2
_DRIFT = 0.2
# Cost of a pair that must never match (beyond the gate); finite so the assignment stays solvable.
_NEVER = 1e6
# dlib's aligner and embedding are made for frontal faces: a track's identity is averaged from
# faces within _SAMPLE_MAX_YAW; a face is compared with tracks up to the looser _QUERY_MAX_YAW.
# Near the frame's edges the estimated yaw includes the angle the camera sees the face from: a
# synthetic actor coming back into the frame, truly turned 22 degrees, was estimated at 42 and
# still embedded 0.18 from its own identity (0.81 from the other actor's).
_SAMPLE_MAX_YAW = 30.0
_QUERY_MAX_YAW = 50.0
# A face coming into the frame is embedded once this much of its landmarks' box is inside: a
# face cut by 12 % at the edge measured 0.28 from its own identity and 0.60 from another's.
_MIN_INSIDE = 0.85
# A track picked up again by its predicted position after missing frames is refused when its
# identity says otherwise. Geometry already points at it, so the bar is dlib's own
# same-person distance, looser than `reid_distance`, which has no geometry behind it.
_REFUSE_DISTANCE = SAME_PERSON_DISTANCE


@dataclass(frozen=True)
class TrackOptions:
    """Settings of the face tracker."""

    max_cost: float = field(default=0.6, metadata={
        "help": "largest matching cost (0: same box and landmarks as predicted, 1: no overlap "
                "and landmarks a face height away) for a face to continue a track",
        "min": 0.0, "max": 1.0})
    coast: float = field(default=1.5, metadata={
        "help": "seconds a track missing its face is still matched by its predicted position "
                "(faces hidden behind another one, missed detections)", "min": 0.0})
    max_missing: float = field(default=5.0, metadata={
        "help": "seconds a lost track is kept so that its face, coming back, gets its id back "
                "(needs an identity encoder after `coast`)", "min": 0.0})
    reid_distance: float = field(default=0.4, metadata={
        "help": "largest identity (dlib embedding) distance at which a face with no track "
                "nearby takes a lost track's id", "min": 0.0, "max": 2.0})
    identity_samples: int = field(default=5, metadata={
        "help": "embeddings averaged into a track's identity", "min": 1})
    identity_every: float = field(default=0.5, metadata={
        "help": "seconds between a track's identity samples", "min": 0.0})
    ambiguity: float = field(default=0.2, metadata={
        "help": "a match whose runner-up costs less than this more is ambiguous and is decided "
                "with identity too (when there is an encoder)", "min": 0.0})
    smoothing: bool = field(default=False, metadata={
        "help": "smooth each track's landmarks over time (One-Euro filter); worth it at 25 fps "
                "and more, it lags walking faces at lower rates"})
    smooth_cutoff: float = field(default=1.0, metadata={
        "help": "One-Euro cutoff frequency in Hz of a still face; lower is smoother",
        "min": 0.01})
    smooth_beta: float = field(default=5.0, metadata={
        "help": "One-Euro speed coefficient (per face height per second): how fast the cutoff "
                "rises as the face moves, trading jitter for lag", "min": 0.0})

    def __post_init__(self) -> None:
        check_fields(self)


class Encoder(Protocol):
    """What the tracker needs of doppel.faces.identity.IdentityEncoder. An encoder that also
    has `submit(rgb, where) -> Future` (doppel.faces.identity_worker.IdentityWorker) gets the
    tracks' identity samples without waiting for them: they join the track's identity when
    done."""

    def embed(self, rgb: npt.NDArray[np.uint8],
              where: npt.NDArray[np.floating]) -> Embedding | None: ...


class Detector(Protocol):
    """Any face detector backend: faces of one RGB uint8 HxWx3 frame."""

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]: ...


@dataclass(frozen=True)
class TrackStats:
    """What a tracker did so far: frames seen, track ids handed out, embeddings computed, and
    times a face got a lost track's id back by identity."""

    frames: int
    tracks: int
    embeddings: int
    reidentified: int


class FaceTracker:
    """Gives every face of a video a track id that stays with the person.

    options: TrackOptions. encoder: an IdentityEncoder (or anything with its `embed`) for
    re-identification; None tracks by geometry only (see the module docstring for what that
    cannot do). fps: the video's frame rate, which turns the options' seconds into frames.
    Feed the frames in order, one `update` each, every frame (also those without faces).
    """

    def __init__(self, options: TrackOptions | None = None, encoder: Encoder | None = None,
                 fps: float = 30.0) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.options = options or TrackOptions()
        self._encoder = encoder
        self._fps = float(fps)
        self._coast = max(1, round(self.options.coast * fps))
        self._max_missing = max(self._coast, round(self.options.max_missing * fps))
        self._sample_every = round(self.options.identity_every * fps)
        self._tracks: list[_Track] = []
        self._frame = -1
        self._next_id = 0
        self._embeddings = 0
        self._reidentified = 0
        self._retired: dict[int, tuple[Embedding, int]] = {}

    @property
    def stats(self) -> TrackStats:
        return TrackStats(self._frame + 1, self._next_id, self._embeddings, self._reidentified)

    def identity(self, track: int) -> tuple[Embedding, int] | None:
        """A track's identity so far: the mean of its finished embeddings (float32 (128,)) and
        how many there are; None for a track never embedded (or whose samples are still being
        computed), or one forgotten after `max_missing`. Does not wait."""
        for candidate in self._tracks:
            if candidate.id == track:
                candidate.collect(wait=False)
                return candidate.mean_identity()
        return None

    def sampled(self, track: int) -> bool:
        """Whether the track has identity samples, finished or still being computed."""
        return any(t.id == track and t.requested() > 0 for t in self._tracks)

    def finish(self) -> dict[int, tuple[Embedding, int]]:
        """After the last frame: every track's identity, waiting for samples still being
        computed; tracks forgotten on the way (after `max_missing`) included."""
        for track in self._tracks:
            self._retire(track)
        return dict(self._retired)

    def _retire(self, track: _Track) -> None:
        track.collect(wait=True)
        identity = track.mean_identity()
        if identity is not None:
            self._retired[track.id] = identity

    def update(self, rgb: npt.NDArray[np.uint8], faces: Sequence[Face]) -> list[Face]:
        """The faces of the next frame (RGB uint8 HxWx3, needed only for embeddings) with
        `track` set, in the order given; with smoothing on, their landmarks, points68 and box
        are the track's smoothed ones."""
        self._frame += 1
        frame = _FrameFaces(rgb, list(faces), self._encoder)
        live = [t for t in self._tracks if self._frame - t.last_frame <= self._coast]
        pairs = self._verify(frame, self._match_geometry(frame, live))
        unmatched = [d for d in range(len(frame.faces)) if d not in pairs]
        pairs.update(self._reidentify(frame, unmatched, {t.id for t in pairs.values()}))
        for d in range(len(frame.faces)):
            if d not in pairs:
                pairs[d] = self._start_track()
        claimed = {track.id for track in pairs.values()}
        output = [self._continue(pairs[d], frame, d, claimed) for d in range(len(frame.faces))]
        self._embeddings += frame.computed
        for track in self._tracks:
            if self._frame - track.last_frame > self._max_missing:
                self._retire(track)
        self._tracks = [t for t in self._tracks
                        if self._frame - t.last_frame <= self._max_missing]
        return output

    def _match_geometry(self, frame: _FrameFaces, live: list[_Track]) -> dict[int, _Track]:
        """Detection index -> track by position, identity helping in ambiguous groups."""
        if not live or not frame.faces:
            return {}
        predicted = [t.predict(self._frame) for t in live]
        cost = np.array([[_match_cost(points, box, face)
                          for face in frame.faces] for points, box in predicted])
        cost = np.where(cost <= self.options.max_cost, cost, _NEVER)
        rows, cols = _assign(cost)
        ambiguous = [(r, c) for r, c in zip(rows, cols, strict=True)
                     if cost[r, c] < _NEVER and _is_ambiguous(cost, r, c, self.options.ambiguity,
                                                              frame.is_crowded(c))]
        if ambiguous and self._encoder is not None:
            cost = self._add_identity(frame, live, cost, ambiguous)
            rows, cols = _assign(cost)
        return {int(c): live[r] for r, c in zip(rows, cols, strict=True) if cost[r, c] < _NEVER}

    def _add_identity(self, frame: _FrameFaces, live: list[_Track],
                      cost: npt.NDArray[np.float64], ambiguous: list[tuple[int, int]]
                      ) -> npt.NDArray[np.float64]:
        """`cost` plus identity distance on the rows and columns of ambiguous matches.

        Ambiguity comes with overlapping faces, so these are embedded even when overlapped: the
        face in front embeds well and decides; the one behind embeds as noise, about as far
        from either identity, and so barely weighs. Where either side has no identity the pair
        gets the neutral `reid_distance`, so geometry alone decides between such pairs.
        """
        finite = cost < _NEVER
        rows = {r for r, _ in ambiguous} | {int(r) for _, c in ambiguous
                                            for r in np.flatnonzero(finite[:, c])}
        cols = {int(c) for r in rows for c in np.flatnonzero(finite[r, :])}
        if all(live[r].identity() is None for r in rows):
            return cost  # nothing to compare with: spare the embeddings
        neutral = self.options.reid_distance
        updated = cost.copy()
        for c in cols:
            embedding = frame.embedding(c) if frame.is_inside(c, _QUERY_MAX_YAW) else None
            for r in rows:
                if cost[r, c] >= _NEVER:
                    continue
                identity = live[r].identity()
                known = embedding is not None and identity is not None
                updated[r, c] += identity_distance(embedding, identity) if known else neutral
        return updated

    def _verify(self, frame: _FrameFaces, pairs: dict[int, _Track]) -> dict[int, _Track]:
        """Drop matches that pick up a track after missing frames when identity refuses them."""
        if self._encoder is None:
            return pairs
        kept = {}
        for d, track in pairs.items():
            # (identity() waits for samples on their way: asked only when it is needed)
            if (self._frame - track.last_frame > 1 and frame.is_fit(d, _QUERY_MAX_YAW)
                    and (identity := track.identity()) is not None):
                embedding = frame.embedding(d)
                if embedding is not None and identity_distance(embedding,
                                                               identity) > _REFUSE_DISTANCE:
                    continue
            kept[d] = track
        return kept

    def _reidentify(self, frame: _FrameFaces, unmatched: list[int], claimed: set[int]
                    ) -> dict[int, _Track]:
        """Unmatched detections that take the id of a track not seen this frame, by identity."""
        faces = [d for d in unmatched if frame.is_fit(d, _QUERY_MAX_YAW)]
        if self._encoder is None or not faces:
            return {}
        lost = [t for t in self._tracks if t.id not in claimed and t.identity() is not None]
        if not lost:
            return {}
        embeddings = [frame.embedding(d) for d in faces]
        distance = np.array([[identity_distance(e, t.identity()) if e is not None else _NEVER
                              for e in embeddings] for t in lost])
        distance = np.where(distance <= self.options.reid_distance, distance, _NEVER)
        rows, cols = _assign(distance)
        found = {faces[c]: lost[r] for r, c in zip(rows, cols, strict=True)
                 if distance[r, c] < _NEVER}
        for track in found.values():
            track.history = []  # it moved while unseen: its old steps say nothing of the next
        self._reidentified += len(found)
        return found

    def _adopt_lost(self, track: _Track, claimed: set[int]) -> _Track:
        """A track whose first identity sample matches a lost track's identity becomes that
        track: the face came back while too turned or too crowded to be recognised, and got a
        new id for those frames; from now on it has its old one again."""
        identity = track.identity()
        lost = [t for t in self._tracks if t.id not in claimed and t.identity() is not None]
        if identity is None or not lost:
            return track
        distances = [identity_distance(identity, t.identity()) for t in lost]
        best = int(np.argmin(distances))
        if distances[best] > self.options.reid_distance:
            return track
        found = lost[best]
        found.take_over(track)
        self._tracks.remove(track)
        self._reidentified += 1
        return found

    def _start_track(self) -> _Track:
        track = _Track(self._next_id)
        self._next_id += 1
        self._tracks.append(track)
        return track

    def _continue(self, track: _Track, frame: _FrameFaces, d: int, claimed: set[int]) -> Face:
        """Move `track` to face `d`, sample its identity when due, and return the face."""
        face = frame.faces[d]
        gap = self._frame - track.last_frame if track.last_frame >= 0 else 0
        track.move(face, self._frame, frame.is_crowded(d))
        if self._sample_due(track) and frame.is_fit(d, _SAMPLE_MAX_YAW):
            if track.requested() == 0 and self._could_adopt(claimed):
                # Its first sample may give it a lost track's id: wanted now, not frames later.
                embedding = frame.embedding(d)
                if embedding is not None:
                    track.add_identity(embedding)
                    track = self._adopt_lost(track, claimed)
            else:
                track.pending.append(frame.submit(d))
            track.last_sample = self._frame
        if not self.options.smoothing:
            return replace(face, track=track.id)
        return track.smooth(face, gap, self._fps, self.options)

    def _could_adopt(self, claimed: set[int]) -> bool:
        return any(t.id not in claimed and t.identity() is not None for t in self._tracks)

    def _sample_due(self, track: _Track) -> bool:
        return (self._encoder is not None
                and track.requested() < self.options.identity_samples
                and (track.last_sample < 0
                     or self._frame - track.last_sample >= self._sample_every))


def track_faces(frames: Iterable[Frame], detector: Detector, tracker: FaceTracker
                ) -> Iterator[tuple[Frame, list[Face]]]:
    """Each frame (doppel.types.Frame, in order, as `doppel.media.read_frames` yields them) with
    its faces found by `detector` and given track ids by `tracker`, in the detector's order.
    Streams: one frame in, one out. Build the detector in its video mode (e.g. MediapipeFaces
    with static=False) and the tracker with the video's frame rate."""
    for frame in frames:
        yield frame, tracker.update(frame.rgb, detector.detect(frame.rgb))


class _FrameFaces:
    """One frame's detections with their embeddings computed at most once, on demand."""

    def __init__(self, rgb: npt.NDArray[np.uint8], faces: list[Face],
                 encoder: Encoder | None) -> None:
        self.rgb = rgb
        self.faces = faces
        self.computed = 0
        self._encoder = encoder
        self._embeddings: dict[int, Embedding | None] = {}
        self._inside = [_is_inside(face, rgb.shape[1], rgb.shape[0]) for face in faces]
        self._clean = [inside and _is_alone(face, faces)
                       for face, inside in zip(faces, self._inside, strict=True)]
        self._crowded = [any(other is not face and _iou(face.box, other.box) > _CROWDED
                             for other in faces) for face in faces]

    def is_crowded(self, d: int) -> bool:
        return self._crowded[d]

    def is_inside(self, d: int, max_yaw: float) -> bool:
        """Whether face `d` is mostly inside the frame and turned at most `max_yaw` degrees."""
        return self._inside[d] and abs(self.faces[d].pose[0]) <= max_yaw

    def is_fit(self, d: int, max_yaw: float) -> bool:
        """Whether face `d` is fit to embed: inside the frame, no other face's box touching it,
        turned at most `max_yaw` degrees."""
        return self._clean[d] and abs(self.faces[d].pose[0]) <= max_yaw

    def submit(self, d: int) -> Future[Embedding | None]:
        """Face `d`'s embedding, computed on the encoder's own time where it can (`submit`),
        else now."""
        assert self._encoder is not None
        self.computed += 1
        submit = getattr(self._encoder, "submit", None)
        if submit is not None:
            return submit(self.rgb, self.faces[d].landmarks)
        done: Future[Embedding | None] = Future()
        done.set_result(self._encoder.embed(self.rgb, self.faces[d].landmarks))
        return done

    def embedding(self, d: int) -> Embedding | None:
        if self._encoder is None:
            return None
        if d not in self._embeddings:
            # The backend's own landmarks: box_from_landmarks is calibrated on their extent.
            self._embeddings[d] = self._encoder.embed(self.rgb, self.faces[d].landmarks)
            self.computed += 1
        return self._embeddings[d]


@dataclass(eq=False)
class _Track:
    """A track's state: last seen points68 (float64 (68, 2) pixels) and box, the centres of its
    last few faces (frame, x, y), identity samples, and the smoothing filters."""

    id: int
    points: Points | None = None
    box: Box = (0.0, 0.0, 0.0, 0.0)
    history: list[tuple[int, float, float]] = field(default_factory=list)
    last_frame: int = -1
    samples: int = 0
    last_sample: int = -1
    identity_sum: npt.NDArray[np.float64] | None = None
    pending: list[Future[Embedding | None]] = field(default_factory=list)
    landmarks_filter: _OneEuro | None = None
    points_filter: _OneEuro | None = None

    def predict(self, frame: int) -> tuple[Points, Box]:
        """Points68 and box where the face should be at `frame`: its last shape, moved to its
        last trusted centre (see `move`) plus the median velocity of its recent steps.

        A median because the last faces before a face hides are often half covered and their
        landmarks pulled towards what covers them: one such step must not throw the prediction
        for the second or so that the face stays hidden.
        """
        assert self.points is not None
        times = np.array([t for t, _, _ in self.history], np.float64)
        centres = np.array([(x, y) for _, x, y in self.history], np.float64)
        steps = np.diff(centres, axis=0) / np.diff(times)[:, None]
        velocity = np.median(steps, axis=0) if len(steps) else np.zeros(2)
        shift = centres[-1] + velocity * (frame - times[-1]) - self.points.mean(axis=0)
        x0, y0, x1, y1 = self.box
        return self.points + shift, (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1])

    def move(self, face: Face, frame: int, crowded: bool) -> None:
        """Continue the track with `face` at `frame`.

        A crowded face (overlapping another) that is not where the track was heading keeps the
        id, but its centre stays out of the motion: a face being covered drags its landmarks
        onto whoever covers it (with mediapipe's tracking, the whole mesh can slide over), and
        the prediction of where it will come out must not follow them. Faces that meet and
        stop are still followed, their stop being within _DRIFT of the prediction.
        """
        points = np.asarray(face.points68, np.float64)
        centre = points.mean(axis=0)
        if crowded and self.history:
            expected = self.predict(frame)[0].mean(axis=0)
            size = max(face.box[3] - face.box[1], 1.0)
            crowded = float(np.linalg.norm(centre - expected)) > _DRIFT * size
        self.points, self.box, self.last_frame = points, face.box, frame
        stale = not self.history or frame - self.history[-1][0] > _HISTORY
        if crowded and not stale:
            return
        # After a while without a trusted centre the old motion is out of date.
        kept = [] if stale else self.history[-(_HISTORY - 1):]
        self.history = [*kept, (frame, float(centre[0]), float(centre[1]))]

    def add_identity(self, embedding: Embedding) -> None:
        value = np.asarray(embedding, np.float64)
        self.identity_sum = value if self.identity_sum is None else self.identity_sum + value
        self.samples += 1

    def requested(self) -> int:
        """Identity samples taken, finished or not."""
        return self.samples + len(self.pending)

    def collect(self, wait: bool) -> None:
        """Add the finished pending samples to the identity (all of them, with `wait`)."""
        still = []
        for future in self.pending:
            if wait or future.done():
                embedding = future.result()
                if embedding is not None:
                    self.add_identity(embedding)
            else:
                still.append(future)
        self.pending = still

    def mean_identity(self) -> tuple[Embedding, int] | None:
        if self.identity_sum is None:
            return None
        return np.asarray(self.identity_sum / self.samples, np.float32), self.samples

    def take_over(self, other: _Track) -> None:
        """Continue from `other`'s last face and add its identity samples to this one's."""
        self.points, self.box, self.history = other.points, other.box, other.history
        self.last_frame = other.last_frame
        self.landmarks_filter, self.points_filter = other.landmarks_filter, other.points_filter
        other.collect(wait=True)
        if other.identity_sum is not None:
            self.collect(wait=True)
            self.identity_sum = (other.identity_sum if self.identity_sum is None
                                 else self.identity_sum + other.identity_sum)
            self.samples += other.samples
            self.last_sample = other.last_sample

    def identity(self) -> npt.NDArray[np.float64] | None:
        """The mean identity, waiting for samples still being computed: for decisions (which
        track is which) that need it now."""
        self.collect(wait=True)
        return None if self.identity_sum is None else self.identity_sum / self.samples

    def smooth(self, face: Face, gap: int, fps: float, options: TrackOptions) -> Face:
        """`face` with its landmarks and points68 filtered; the filters restart after a gap,
        where the jump is real (the face moved while unseen)."""
        size = max(face.box[3] - face.box[1], 1.0)
        if gap != 1 or self.landmarks_filter is None or self.points_filter is None:
            self.landmarks_filter = _OneEuro(options.smooth_cutoff, options.smooth_beta, fps)
            self.points_filter = _OneEuro(options.smooth_cutoff, options.smooth_beta, fps)
        landmarks = self.landmarks_filter.step(np.asarray(face.landmarks, np.float64), size)
        points68 = self.points_filter.step(np.asarray(face.points68, np.float64), size)
        low, high = landmarks.min(axis=0), landmarks.max(axis=0)
        return replace(face, track=self.id, landmarks=landmarks.astype(np.float32),
                       points68=points68.astype(np.float32),
                       box=(float(low[0]), float(low[1]), float(high[0]), float(high[1])))


class _OneEuro:
    """The One-Euro filter (Casiez et al., CHI 2012) on a set of points, with one cutoff for the
    whole face so that its shape is not bent by points lagging differently. Speed is measured in
    face heights per second, so the settings do not depend on the picture's size."""

    def __init__(self, cutoff: float, beta: float, fps: float, speed_cutoff: float = 1.0
                 ) -> None:
        self._cutoff, self._beta, self._fps, self._speed_cutoff = cutoff, beta, fps, speed_cutoff
        self._value: Points | None = None
        self._speed = 0.0

    def step(self, points: Points, size: float) -> Points:
        if self._value is None:
            self._value = points
            return points
        speed = float(np.linalg.norm(points - self._value, axis=1).mean()) * self._fps / size
        self._speed += _smoothing(self._speed_cutoff, self._fps) * (speed - self._speed)
        cutoff = self._cutoff + self._beta * self._speed
        self._value = self._value + _smoothing(cutoff, self._fps) * (points - self._value)
        return self._value


def _smoothing(cutoff: float, fps: float) -> float:
    """Weight of the new sample in an exponential filter with this cutoff (Hz)."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * fps)


def _match_cost(points: Points, box: Box, face: Face) -> float:
    """0 (same place) .. 1 (nowhere near): half box overlap (1 - IoU), half mean points68
    distance in face heights, capped at one face height."""
    size = max(box[3] - box[1], 1.0)
    distance = float(np.linalg.norm(points - face.points68, axis=1).mean()) / size
    return 0.5 * (1.0 - _iou(box, face.box)) + 0.5 * min(distance, 1.0)


def _is_ambiguous(cost: npt.NDArray[np.float64], r: int, c: int, margin: float,
                  crowded: bool) -> bool:
    """Whether the (r, c) match has a rival: another track or face within `margin` of its
    cost, or, for a crowded face, any other possible match."""
    others = np.concatenate([np.delete(cost[r, :], c), np.delete(cost[:, c], r)])
    return bool((others < (_NEVER if crowded else cost[r, c] + margin)).any())


def _is_inside(face: Face, width: int, height: int) -> bool:
    frame = (-0.5, -0.5, width - 0.5, height - 0.5)
    return _area(_intersection(face.box, frame)) >= _MIN_INSIDE * _area(face.box)


def _is_alone(face: Face, faces: list[Face]) -> bool:
    return all(other is face or _area(_intersection(face.box, other.box)) == 0.0
               for other in faces)


def _iou(a: Box, b: Box) -> float:
    inner = _area(_intersection(a, b))
    union = _area(a) + _area(b) - inner
    return inner / union if union > 0 else 0.0


def _intersection(a: Box, b: Box) -> Box:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _assign(cost: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The minimum-cost matching of rows to columns (Hungarian method), as
    scipy.optimize.linear_sum_assignment returns it. One face followed by one track is the
    common case, and importing scipy.optimize costs ~0.6 s of start-up: a single row or column
    needs no more than its smallest entry."""
    if cost.shape[0] == 1:
        return np.zeros(1, np.intp), np.array([np.argmin(cost[0])], np.intp)
    if cost.shape[1] == 1:
        return np.array([np.argmin(cost[:, 0])], np.intp), np.zeros(1, np.intp)
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)
