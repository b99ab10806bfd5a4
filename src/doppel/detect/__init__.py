"""The forensic detector: is a face real or swapped, judged from its pixels alone (not from
labels, which can be stripped). Training data: real faces of synthetic actors, self-blended
images of them (doppel.detect.sbi), our own and the classic baseline's swaps."""

INPUT_SIZE = 128  # crop side the networks see
COVERAGE = "whole-face"  # the blend's outline (the face hull) lies inside this crop
