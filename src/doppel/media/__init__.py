"""Media in and out: probe files, stream frames, write H.264 video and still images."""

from doppel.media._formats import IMAGE_SUFFIXES, VIDEO_SUFFIXES, classify, list_images
from doppel.media._image import read_image, tile_grid, write_image
from doppel.media._probe import MediaInfo, probe
from doppel.media._read import read_frames
from doppel.media._video import patch_yuv, yuv_planes
from doppel.media._write import Preset, VideoWriter, WriterConfig

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "MediaInfo",
    "Preset",
    "VideoWriter",
    "WriterConfig",
    "classify",
    "list_images",
    "patch_yuv",
    "probe",
    "read_frames",
    "read_image",
    "tile_grid",
    "write_image",
    "yuv_planes",
]
