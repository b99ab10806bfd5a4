"""Swap-quality metrics: how an output clip compares with its truth (the ideal swap) on the
face: picture (masked PSNR, SSIM), identity (distances, top-1 retrieval), expression (landmark
NME), pose, flicker and coverage; `ClipScores` streams them all over a clip."""

from doppel.metrics.face import (LANDMARK_GROUPS, LandmarkGroup, identity_scores, landmark_nme,
                                 pose_error, retrieval_top1)
from doppel.metrics.image import masked_psnr, masked_ssim
from doppel.metrics.scores import ClipScores
from doppel.metrics.stability import coverage, flicker, flicker_ratio

__all__ = [
    "LANDMARK_GROUPS", "ClipScores", "LandmarkGroup", "coverage", "flicker", "flicker_ratio",
    "identity_scores", "landmark_nme", "masked_psnr", "masked_ssim", "pose_error",
    "retrieval_top1",
]
