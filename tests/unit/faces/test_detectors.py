"""The face detector registry: names, options, opening by name, and lazy heavy imports."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.faces import (
    DEFAULT_DETECTOR,
    DETECTORS,
    DlibOptions,
    MediapipeOptions,
    open_detector,
)


def test_registry_lists_both_backends_with_mediapipe_the_default():
    assert DETECTORS.names() == ["dlib", "mediapipe"]
    assert DEFAULT_DETECTOR == "mediapipe"
    assert DETECTORS.get("mediapipe").options is MediapipeOptions
    assert DETECTORS.get("dlib").options is DlibOptions


def test_unknown_detector_is_a_user_error_naming_the_choices():
    with pytest.raises(DoppelError, match="unknown face detector 'retina'.*dlib, mediapipe"):
        open_detector("retina")


@pytest.mark.parametrize("name", DETECTORS.names())
def test_options_are_frozen_dataclasses_with_help(name):
    options_type = DETECTORS.get(name).options
    options = options_type()
    assert dataclasses.is_dataclass(options)
    for field in dataclasses.fields(options):
        assert field.metadata.get("help"), f"{name} option {field.name} has no help"
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(options, field.name, getattr(options, field.name))


def test_dlib_options_are_checked():
    with pytest.raises(DoppelError, match="--upsample"):
        DlibOptions(upsample=9)
    with pytest.raises(DoppelError, match="--detector"):
        DlibOptions(detector="fast")


def test_options_of_another_backend_are_refused():
    with pytest.raises(TypeError, match="DlibOptions"):
        open_detector("dlib", MediapipeOptions())


@pytest.mark.parametrize("name", DETECTORS.names())
def test_every_backend_opens_by_name_and_finds_the_astronaut(name):
    skimage_data = pytest.importorskip("skimage.data")
    pytest.importorskip(name)
    with open_detector(name, max_faces=1, min_score=0.5) as detector:
        assert detector.detect(np.zeros((128, 128, 3), np.uint8)) == []
        [face] = detector.detect(skimage_data.astronaut())
    assert face.points68.shape == (68, 2) and 0.5 <= face.score <= 1.0
    eyes = face.points68[36:42].mean(axis=0)
    assert np.linalg.norm(eyes - (203, 101)) < 3


def test_registering_does_not_import_the_backends():
    code = ("import sys, doppel.faces; "
            "print(sorted(m for m in ('mediapipe', 'dlib', 'cv2') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
