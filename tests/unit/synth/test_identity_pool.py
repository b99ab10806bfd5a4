"""The identity pool: a face recogniser tells its actors apart (a small version of
`doppel bench identity`, which judges 50 actors)."""

from __future__ import annotations

import pytest

from doppel.synth.pool import POOL_SEEDS


def test_pool_seeds_are_distinct_and_enough_for_the_benchmark():
    assert len(set(POOL_SEEDS)) == len(POOL_SEEDS) >= 50


@pytest.mark.slow
def test_ten_pool_actors_are_recognised_across_their_own_frames():
    from doppel.bench.identity import embed_actor, score_identity
    from doppel.errors import DoppelError
    from doppel.faces.identity import IdentityEncoder
    from doppel.synth.raster import Renderer

    try:
        Renderer(16, 16).close()
        encoder = IdentityEncoder()
    except DoppelError as error:
        pytest.skip(str(error))
    seeds = list(POOL_SEEDS[:10])
    scores = score_identity(seeds, [embed_actor(seed, frames=8, encoder=encoder)
                                    for seed in seeds])
    assert scores["top1"] >= 0.9
    assert scores["same_to_mean"]["median"] < scores["different_to_mean"]["median"] - 0.15
