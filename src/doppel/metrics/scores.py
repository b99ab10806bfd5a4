"""All of a clip's swap-quality metrics, streamed: frame by frame in, one summary out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from doppel.faces.landmarks import points68_from_mediapipe
from doppel.metrics.face import LandmarkGroup, expression_nme, landmark_nme, pose_error
from doppel.metrics.image import MASK_THRESHOLD, masked_psnr, masked_ssim
from doppel.metrics.stability import FlickerMeter, ratio_of
from doppel.types import Face

if TYPE_CHECKING:  # synth (the renderer) is only needed by whoever makes the truth
    from doppel.synth.render import SynthFrame

NME_GROUPS: tuple[LandmarkGroup, ...] = ("all", "mouth", "eyes")
EXPRESSION_GROUPS: tuple[LandmarkGroup, ...] = ("all", "mouth")


class ClipScores:
    """Scores an output clip against its truth one frame at a time, with flat memory: it keeps
    the previous output and truth frames (for flicker), a few numbers per frame and the 68
    points of each face found (2 KiB: the expression error needs the whole clip's).

    gallery: name -> mean identity embedding (float (128,)) per person; with `source` (and
        optionally `target`) naming entries in it, output embeddings are scored for identity.
        None skips identity.
    """

    def __init__(self, gallery: Mapping[str, npt.NDArray[np.floating]] | None = None,
                 source: str | None = None, target: str | None = None) -> None:
        names = dict(gallery or {})
        for role, name in (("source", source), ("target", target)):
            if name is not None and name not in names:
                raise ValueError(f"{role} {name!r} is not in the gallery ({', '.join(names)})")
        if names and source is None:
            raise ValueError("a gallery needs the source's name in it to score identity")
        self._names = list(names)
        self._means = (np.stack([np.asarray(names[name], np.float64) for name in self._names])
                       if names else None)
        self._source, self._target = source, target
        self._output_flicker, self._truth_flicker = FlickerMeter(), FlickerMeter()
        self._frames = 0
        self._series: dict[str, list[float]] = {key: [] for key in (
            "found", "psnr_db", "ssim", "yaw_error", "pitch_error", "roll_error",
            "to_source", "to_target", "closer_to_source", "source_top1",
            *(f"nme_{group}" for group in NME_GROUPS))}
        self._points: tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]]] = (
            [], [])  # output's and truth's 68 points, frames with a face found

    def add(self, output: npt.NDArray[np.uint8], truth: SynthFrame, face: Face | None,
            embedding: npt.NDArray[np.floating] | None = None) -> None:
        """One frame: the output picture (RGB uint8 HxWx3), its truth (the ideal swap's frame),
        the face a detector found in the output (None: not found), and that face's identity
        embedding (None: not embedded). Frames whose truth shows no face count only for
        flicker's frame-to-frame pairs."""
        self._frames += 1
        self._output_flicker.add(output, truth.face_mask)
        self._truth_flicker.add(truth.rgb, truth.face_mask)
        if not (truth.face_mask > MASK_THRESHOLD).any():
            return
        series = self._series
        series["found"].append(float(face is not None))
        series["psnr_db"].append(masked_psnr(output, truth.rgb, truth.face_mask))
        series["ssim"].append(masked_ssim(output, truth.rgb, truth.face_mask))
        if face is not None:
            truth68 = points68_from_mediapipe(truth.landmarks)
            errors = landmark_nme(face.points68, truth68, NME_GROUPS)
            self._points[0].append(np.asarray(face.points68, np.float32))
            self._points[1].append(truth68.astype(np.float32))
            for group, error in errors.items():
                series[f"nme_{group}"].append(error)
            for angle, error in zip(("yaw", "pitch", "roll"), pose_error(face.pose, truth.pose)):
                series[f"{angle}_error"].append(error)
        if embedding is not None and self._means is not None:
            self._add_identity(np.asarray(embedding, np.float64).ravel())

    def _add_identity(self, embedding: npt.NDArray[np.float64]) -> None:
        assert self._means is not None
        distances = np.linalg.norm(self._means - embedding, axis=1)
        to_source = float(distances[self._names.index(str(self._source))])
        self._series["to_source"].append(to_source)
        self._series["source_top1"].append(
            float(self._names[int(np.argmin(distances))] == self._source))
        if self._target is not None:
            to_target = float(distances[self._names.index(self._target)])
            self._series["to_target"].append(to_target)
            self._series["closer_to_source"].append(float(to_source < to_target))

    def summary(self) -> dict[str, float]:
        """The clip's scores; nan where nothing was measured.

        frames: frames added; face_frames: those whose truth shows a face; coverage: share of
        face_frames with a face found; psnr_db (inf when equal), ssim, nme_all/mouth/eyes,
        yaw/pitch/roll_error (degrees), to_source, to_target: medians over frames; ssim_mean;
        nme_expression_all/mouth: the expression part of the landmark error
        (doppel.metrics.face.expression_nme);
        closer_to_source, source_top1: shares of embedded frames; flicker_output,
        flicker_truth (0-255 levels) and flicker_ratio (1.0 = as steady as reality).
        """
        series = self._series
        result = {"frames": float(self._frames), "face_frames": float(len(series["found"])),
                  "coverage": _mean(series["found"])}
        for key in ("psnr_db", "ssim", *(f"nme_{group}" for group in NME_GROUPS),
                    "yaw_error", "pitch_error", "roll_error", "to_source", "to_target"):
            result[key] = _median(series[key])
        result["ssim_mean"] = _mean(series["ssim"])
        for group, error in expression_nme(*self._points, EXPRESSION_GROUPS).items():
            result[f"nme_expression_{group}"] = error
        result["closer_to_source"] = _mean(series["closer_to_source"])
        result["source_top1"] = _mean(series["source_top1"])
        output, truth = self._output_flicker.value(), self._truth_flicker.value()
        result["flicker_output"], result["flicker_truth"] = output, truth
        result["flicker_ratio"] = (ratio_of(output, truth) if self._truth_flicker.pairs
                                   else float("nan"))
        return result


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
