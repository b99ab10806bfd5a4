"""The on-disk faceset: aligned face crops with everything known about each, ready to train on.

A faceset is a folder:

    faceset.json          format version, the extract settings used, consent records, counts
    index.sqlite          tables faces (one row per face), tracks (identity embeddings) and
                          sources (hash, path, frames done, finished: for resuming)
    s0001_f000042_t0.png  the aligned crop, RGB, lossless; named s<source>_f<frame>_t<track>
    masks/s0001_f000042_t0.png   its face mask, 8-bit gray, same name

Masks are separate gray PNGs rather than an alpha channel so a crop stays an ordinary picture
(viewers would show an alpha-masked crop cut out, and what lies outside the mask is needed to
train), and so a better masker can later replace the masks without rewriting the crops.
"""

from doppel.faceset._faceset import BATCH_FACES, MASKS_DIR, Faceset, open_faceset
from doppel.faceset._index import INDEX_FILE
from doppel.faceset._meta import FORMAT_VERSION, META_FILE
from doppel.faceset._records import FaceRecord, TrackRecord
from doppel.files import hash_file
from doppel.faceset._summary import FacesetSummary, SourceSummary

__all__ = [
    "BATCH_FACES", "FORMAT_VERSION", "INDEX_FILE", "MASKS_DIR", "META_FILE", "FaceRecord",
    "Faceset", "FacesetSummary", "SourceSummary", "TrackRecord", "hash_file", "open_faceset",
]
