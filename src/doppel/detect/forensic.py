"""Running a trained forensic detector: aligned crops in, the calibrated probability each is
swapped out, and for one crop a heatmap of the pixels its verdict rests on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError

SHIPPED = Path(__file__).parent / "weights" / "detector.safetensors"
HEAT_SIGMA = 4.0  # pixels of the crop: the heatmap shows regions, not single pixels


class ForensicDetector:
    """weights: a file written by `doppel detector train` (default: the shipped one). On the
    CPU the network runs in numpy (no torch import); on other devices in torch. Its
    calibration (Platt scaling fitted on held-out actors) applies to every score."""

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        import safetensors
        import safetensors.numpy

        from doppel.detect.train import META_KEY

        path = Path(weights) if weights is not None else SHIPPED
        if not path.is_file():
            raise DoppelError(f"no detector weights at {path}: train them with doppel detector "
                              "train, or reinstall doppel")
        try:
            with safetensors.safe_open(str(path), framework="numpy") as handle:
                self.meta: dict[str, Any] = json.loads((handle.metadata() or {})[META_KEY])
            tensors = safetensors.numpy.load_file(str(path))
        except (safetensors.SafetensorError, KeyError, json.JSONDecodeError) as error:
            raise DoppelError(f"{path} is not a doppel detector ({error}): give the file "
                              "doppel detector train wrote") from None
        self.device = device
        calibration = self.meta.get("calibration", {})
        self._scale = float(calibration.get("scale", 1.0))
        self._shift = float(calibration.get("shift", 0.0))
        self.network: Any
        if device == "cpu":
            from doppel.detect.numpy_forensic import NumpyForensicNet

            try:
                self.network = NumpyForensicNet(tensors)
            except KeyError:
                raise DoppelError(f"{path} does not fit the detector's network: train it "
                                  "again") from None
        else:
            self.network = _torch_network(self.meta["network"], tensors, path, device)

    def score(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """For aligned crops (uint8 N x S x S x 3, doppel.detect's INPUT_SIZE and COVERAGE):
        the calibrated logits (float32 N; > 0 leans swapped, probability() of them is the
        chance of a swap)."""
        from doppel.detect.numpy_forensic import NumpyForensicNet

        if isinstance(self.network, NumpyForensicNet):
            logits = self.network.forward(crops)
        else:
            import torch

            from doppel.detect.train import to_tensor

            with torch.inference_mode():
                logits = self.network(to_tensor(crops).to(self.device)).float().cpu().numpy()
        return (self._scale * logits + self._shift).astype(np.float32)

    def heatmap(self, crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Where the verdict on one crop comes from: how much each pixel moves the logit (the
        gradient's size over the colour channels, Simonyan et al. 2014), smoothed over
        HEAT_SIGMA pixels; float32 S x S, >= 0."""
        import cv2

        from doppel.detect.numpy_forensic import NumpyForensicNet

        if isinstance(self.network, NumpyForensicNet):
            gradient = self.network.input_gradient(crop)
        else:
            import torch

            from doppel.detect.train import to_tensor

            images = to_tensor(crop[None]).to(self.device).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.network(images)[0], images)
            gradient = grad[0].permute(1, 2, 0).float().cpu().numpy()
        size = np.abs(gradient).sum(axis=2).astype(np.float32)
        return cv2.GaussianBlur(size, (0, 0), HEAT_SIGMA)


def _torch_network(name: str, tensors: dict[str, np.ndarray], path: Path, device: str) -> Any:
    import torch

    from doppel.detect.model import build_detector

    network = build_detector(name)
    try:
        network.load_state_dict({key: torch.from_numpy(value).float()
                                 if np.issubdtype(value.dtype, np.floating)
                                 else torch.from_numpy(value) for key, value in tensors.items()})
    except RuntimeError:
        raise DoppelError(f"{path} does not fit the {name} network: train it again") from None
    return network.eval().to(device)


def probability(logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))


def roc_auc(scores: npt.ArrayLike, swapped: npt.ArrayLike) -> float:
    """The area under the ROC curve: the chance a random swapped face scores above a random
    real one (ties count half)."""
    from scipy.stats import rankdata

    scores, swapped = np.asarray(scores, np.float64), np.asarray(swapped, bool)
    positives, negatives = swapped.sum(), (~swapped).sum()
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[swapped].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))
