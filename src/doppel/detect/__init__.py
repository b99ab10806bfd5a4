"""The forensic detector: is a face real or swapped, judged from its pixels alone (not from
labels, which can be stripped). Training data: real faces of synthetic actors, self-blended
images of them (doppel.detect.sbi), our own and the classic baseline's swaps."""
