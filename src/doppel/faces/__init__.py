"""Faces: detection and 478-point landmarks (mediapipe); tracking, alignment and masks to come."""

from doppel.faces.mediapipe import NUM_LANDMARKS, Face, MediapipeFaces

__all__ = ["NUM_LANDMARKS", "Face", "MediapipeFaces"]
