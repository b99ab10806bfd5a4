"""Contact-sheet layout shared by `doppel synth --contact-sheet` and `doppel faceset sheet`."""

import numpy as np

from doppel.media import tile_grid


def test_tiles_fill_rows_of_a_near_square_grid():
    rng = np.random.default_rng(0)
    tiles = [rng.integers(0, 255, (8, 16, 3), np.uint8) for _ in range(5)]
    sheet = tile_grid(tiles)
    assert sheet.shape == (3 * 8, 2 * 16, 3)  # 2:1 tiles: 2 columns, 3 rows
    assert np.array_equal(sheet[8:16, 16:32], tiles[3])
    assert (sheet[16:24, 16:32] == 255).all()  # the empty place


def test_square_tiles_make_a_square_grid():
    tiles = [np.zeros((8, 8, 3), np.uint8)] * 7
    assert tile_grid(tiles).shape == (3 * 8, 3 * 8, 3)
    assert tile_grid(tiles[:1]).shape == (8, 8, 3)
