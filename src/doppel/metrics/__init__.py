"""Swap-quality metrics: how an output clip compares with its truth (the ideal swap) on the
face: picture (masked PSNR, SSIM), identity (distances, top-1 retrieval), expression (landmark
NME), pose, flicker and coverage; `ClipScores` streams them all over a clip.

No LPIPS: no registry package ships its weights for offline use. The `lpips` wheel (0.1.4)
holds only the small linear heads (6-11 KB `.pth` files); the AlexNet/VGG/SqueezeNet
backbones they sit on come from torchvision's `pretrained=True`, a download at first use
(doppel never downloads at run time), and torchvision from PyPI does not even import beside
the CPU torch 2.13 this project installs. piq and pyiqa fetch their weights the same way.
"""

from doppel.metrics.face import (LANDMARK_GROUPS, LandmarkGroup, expression_nme,
                                 identity_scores, landmark_nme, pose_error, retrieval_top1)
from doppel.metrics.image import masked_psnr, masked_ssim
from doppel.metrics.scores import ClipScores
from doppel.metrics.stability import coverage, flicker, flicker_ratio

__all__ = [
    "LANDMARK_GROUPS", "ClipScores", "LandmarkGroup", "coverage", "expression_nme", "flicker",
    "flicker_ratio", "identity_scores", "landmark_nme", "masked_psnr", "masked_ssim", "pose_error",
    "retrieval_top1",
]
