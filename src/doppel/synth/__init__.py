"""Synthetic actors: people who do not exist, rendered with ground truth (landmarks, pose,
expression, face mask) for tests, benchmarks and the demo.

`render(actor, performance, scene, size)` streams frames with their truth;
`render_swap_truth(source_actor, target_clip)` is the ideal output of swapping the source
into the target's clip: the source performing exactly what the target did, where it did it.
`render_group(cast, scene, size)` puts several actors in one frame (crossing, leaving and
coming back: `crossing_performances`).
"""

from doppel.synth.actor import EXPRESSIONS, Actor, random_actor
from doppel.synth.group import Cast, crossing_performances, render_group
from doppel.synth.performance import Performance, generate_performance, neutral_performance
from doppel.synth.render import Clip, SynthFrame, render, render_clip, render_swap_truth
from doppel.synth.scene import Scene, random_scene

__all__ = [
    "EXPRESSIONS", "Actor", "Cast", "Clip", "Performance", "Scene", "SynthFrame",
    "crossing_performances", "generate_performance", "neutral_performance", "random_actor",
    "random_scene", "render", "render_clip", "render_group", "render_swap_truth",
]
