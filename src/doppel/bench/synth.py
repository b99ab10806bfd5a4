"""The synthetic-actor benchmark: do real face detectors accept the rendered people, and how
fast are they rendered?

What is measured ("Synthetic actors I"):

Detection, at 256x256, over 20 random actors x 100 frames (actor, scene and performance seeds
1000..1019; `generate_performance(4.0, 25.0, seed)`, max yaw 45 degrees; --quick: 4 actors x
25 frames). Frames are binned by the true |yaw|: 0-15, 15-30, 30-45 degrees.
- mediapipe (`MediapipeFaces`, static mode, min score 0.5): share of frames where it finds a
  face. Bars: >= 98 % of frames with |yaw| <= 30 and >= 90 % with 30 < |yaw| <= 45.
- Landmark error of each found frame: the median over the 478 points of the distance between
  mediapipe's landmarks and the true ones, divided by the true 2D distance between the outer
  eye corners (33 and 263) in that frame. That distance shrinks with yaw (about cos(yaw)), so
  the error at large yaw is normalised by a smaller length than a frontal one would be. Bar:
  median over found frames with |yaw| <= 30 is <= 5 %. Reported per yaw bin and for landmark
  groups (mediapipe's own FACEMESH_* index sets: eyes with irises, lips, face oval).
- dlib's HOG frontal detector (`get_frontal_face_detector`, upsample 1): a frame counts when a
  box overlaps the box around the true landmarks with IoU > 0.3. Bar: >= 90 % of frames with
  |yaw| <= 15.

Speed: iterating `render` over a 100-frame performance (head build, projection, rasterising,
background, degradation; no video encoding) in a fresh child process pinned to core 0 with
LP_NUM_THREADS=0 and one BLAS/OpenMP thread set before anything starts, and
`apply_threads(1)`. fps is the median of several runs after a warm-up. Bars: >= 60 fps at
256x256, >= 20 fps at 512x512. The same in a child with default threads (all cores) is reported
only, and so is a split of the time into head build, rasterising (`Renderer.draw`), degradation
and the rest.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.bench import BenchConfig
from doppel.bench._report import (ONE_THREAD, Say, bar_lines, bar_table, machine_facts,
                                  markdown_heading, progress_printer, write_results)
from doppel.runtime import Runtime, apply_threads
from doppel.synth import SynthFrame, generate_performance, random_actor, random_scene, render

SIZE = 256
SEED_BASE = 1000
ACTORS, FRAMES, QUICK_ACTORS, QUICK_FRAMES = 20, 100, 4, 25
FPS = 25.0
YAW_BINS = ((0.0, 15.0), (15.0, 30.0), (30.0, 45.0))
EYE_CORNERS = (33, 263)  # outer corners, mediapipe numbering
MP_NEAR_BAR, MP_FAR_BAR, ERROR_BAR, DLIB_BAR = 0.98, 0.90, 0.05, 0.90
DLIB_IOU = 0.3
SPEED_SIZES = (256, 512)
SPEED_BARS = {256: 60.0, 512: 20.0}
SPEED_FRAMES = 100
ONE_CORE = {"LP_NUM_THREADS": "0", **ONE_THREAD}

Result = dict[str, Any]
Points = npt.NDArray[np.float32]


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("synth", runtime)
    actors, frames = (QUICK_ACTORS, QUICK_FRAMES) if config.quick else (ACTORS, FRAMES)
    started = time.perf_counter()
    results: Result = {
        "suite": "synth",
        "machine": describe_machine(config.quick),
        "detection": measure_detection(actors, frames, say),
        "speed": measure_speed(2 if config.quick else 5, say),
    }
    results["wall_seconds"] = time.perf_counter() - started
    results["bars"] = judge(results)
    print(format_table(results))
    write_results("synth", results, format_markdown(results), config.output)


# -- detection ---------------------------------------------------------------------------------


def landmark_groups() -> dict[str, npt.NDArray[np.intp]]:
    """Mediapipe's own index sets for a few parts of the face."""
    from mediapipe.python.solutions import face_mesh_connections as sets

    def points(*connections: frozenset[tuple[int, int]]) -> npt.NDArray[np.intp]:
        return np.array(sorted({i for edges in connections for edge in edges for i in edge}))

    return {"eyes": points(sets.FACEMESH_LEFT_EYE, sets.FACEMESH_RIGHT_EYE,
                           sets.FACEMESH_LEFT_IRIS, sets.FACEMESH_RIGHT_IRIS),
            "mouth": points(sets.FACEMESH_LIPS), "contour": points(sets.FACEMESH_FACE_OVAL)}


def box_of(points: Points) -> npt.NDArray[np.float64]:
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float64)


def iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    inner = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inner
    return float(inner / union) if union > 0 else 0.0


def yaw_bin(yaw: float) -> str | None:
    for low, high in YAW_BINS:
        if low <= abs(yaw) <= high:
            return f"{low:g}-{high:g}"
    return None


def measure_frame(frame: SynthFrame, faces: Any, dlib_detector: Any,
                  groups: dict[str, npt.NDArray[np.intp]]) -> Result:
    truth = frame.landmarks
    yaw, pitch, roll = frame.pose
    eyes = float(np.linalg.norm(truth[EYE_CORNERS[0]] - truth[EYE_CORNERS[1]]))
    row: Result = {"frame": frame.index, "yaw": yaw, "pitch": pitch, "roll": roll,
                   "eye_distance_px": eyes}
    found = faces.detect(frame.rgb)
    row["mediapipe"] = bool(found)
    if found:
        distances = np.linalg.norm(found[0].landmarks - truth, axis=1) / eyes
        row["error"] = float(np.median(distances))
        row["group_errors"] = {name: float(np.median(distances[rows]))
                               for name, rows in groups.items()}
    truth_box = box_of(truth)
    boxes = [np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64)
             for r in dlib_detector(frame.rgb, 1)]
    row["dlib"] = any(iou(box, truth_box) > DLIB_IOU for box in boxes)
    return row


def measure_detection(actors: int, frames: int, say: Say) -> Result:
    import dlib

    from doppel.faces.mediapipe import MediapipeFaces

    groups, dlib_detector = landmark_groups(), dlib.get_frontal_face_detector()
    say(f"detection: {actors} actors x {frames} frames at {SIZE}x{SIZE}")
    rows: list[Result] = []
    started = time.perf_counter()
    with MediapipeFaces(static=True) as faces:
        for offset in range(actors):
            seed = SEED_BASE + offset
            performance = generate_performance(frames / FPS, FPS, seed)
            for frame in render(random_actor(seed), performance, random_scene(seed), SIZE):
                rows.append({"actor": seed, **measure_frame(frame, faces, dlib_detector, groups)})
            say(f"detection: actor {seed} done ({offset + 1}/{actors})")
    return {"size": [SIZE, SIZE], "actors": actors, "frames_per_actor": frames,
            "seeds": [SEED_BASE, SEED_BASE + actors - 1], "eye_distance": "outer corners 33-263",
            "seconds": time.perf_counter() - started, **summarise_detection(rows, groups),
            "misses": [{key: row[key] for key in ("actor", "frame", "yaw", "pitch", "roll",
                                                  "mediapipe", "dlib")}
                       for row in rows if not (row["mediapipe"] and row["dlib"])]}


def rate(rows: list[Result], key: str) -> float | None:
    return sum(row[key] for row in rows) / len(rows) if rows else None


def median_error(rows: list[Result], group: str | None = None) -> float | None:
    errors = [row["error"] if group is None else row["group_errors"][group]
              for row in rows if "error" in row]
    return statistics.median(errors) if errors else None


def summarise_detection(rows: list[Result], groups: dict[str, Any]) -> Result:
    def within(test: Callable[[float], bool]) -> list[Result]:
        return [row for row in rows if test(abs(row["yaw"]))]

    near, far = within(lambda yaw: yaw <= 30), within(lambda yaw: 30 < yaw <= 45)
    bins = []
    for low, high in YAW_BINS:
        chosen = within(lambda yaw, low=low, high=high: (low < yaw or low == 0) and yaw <= high)
        bins.append({"bin": f"{low:g}-{high:g}", "frames": len(chosen),
                     "mediapipe_rate": rate(chosen, "mediapipe"),
                     "dlib_rate": rate(chosen, "dlib"), "error_median": median_error(chosen),
                     "error_p90": (float(np.percentile([r["error"] for r in chosen
                                                        if "error" in r], 90))
                                   if any("error" in r for r in chosen) else None),
                     **{f"error_{name}": median_error(chosen, name) for name in groups}})
    beyond = within(lambda yaw: yaw > 45)
    actors = sorted({row["actor"] for row in rows})
    return {
        "frames": len(rows), "frames_beyond_45": len(beyond),
        "max_abs_yaw": max(abs(row["yaw"]) for row in rows),
        "near": {"frames": len(near), "mediapipe_rate": rate(near, "mediapipe"),
                 "error_median": median_error(near),
                 **{f"error_{name}": median_error(near, name) for name in groups}},
        "far": {"frames": len(far), "mediapipe_rate": rate(far, "mediapipe"),
                "error_median": median_error(far),
                **{f"error_{name}": median_error(far, name) for name in groups}},
        "frontal_dlib_rate": rate(within(lambda yaw: yaw <= 15), "dlib"),
        "bins": bins,
        "per_actor": [{"actor": actor,
                       "mediapipe_rate": rate([r for r in rows if r["actor"] == actor],
                                              "mediapipe"),
                       "dlib_frontal_rate": rate([r for r in rows if r["actor"] == actor
                                                  and abs(r["yaw"]) <= 15], "dlib"),
                       "error_median": median_error([r for r in rows if r["actor"] == actor])}
                      for actor in actors],
    }


# -- speed -------------------------------------------------------------------------------------


def measure_speed(runs: int, say: Say) -> Result:
    """Render throughput in fresh child processes: pinned to one core, then default threads."""
    results = {}
    for mode, pin, extra in (("one_core", True, ONE_CORE), ("default_threads", False, {})):
        say(f"speed: {runs} runs of {SPEED_FRAMES} frames at {SPEED_SIZES}, {mode}")
        code = ("import os\n"
                + ("if hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {0})\n"
                   if pin else "")
                + "from doppel.bench.synth import time_render\n"
                + f"time_render({runs}, {pin})")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, **extra})
        if done.returncode != 0:
            raise RuntimeError(f"synth timing failed ({done.returncode}):\n{done.stderr[-3000:]}")
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def timed(spent: dict[str, float], name: str, function: Callable[..., Any]
          ) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return wrapper


def time_render(runs: int, one_thread: bool) -> None:
    """Run in the child: print one JSON line of fps and per-stage ms per frame for each size."""
    import importlib

    # `doppel.synth.render` the attribute is the function; the module is reached by name.
    rendering = importlib.import_module("doppel.synth.render")
    if one_thread:
        apply_threads(1)
    spent = {"head_build": 0.0, "rasterise": 0.0, "degrade": 0.0}
    # Wrap the stages in place so the split comes from the very loop being timed.
    rendering.HeadBuilder.build = timed(spent, "head_build", rendering.HeadBuilder.build)
    rendering.Renderer.draw = timed(spent, "rasterise", rendering.Renderer.draw)
    rendering.degrade_frame = timed(spent, "degrade", rendering.degrade_frame)
    actor, scene = random_actor(SEED_BASE), random_scene(SEED_BASE)
    performance = generate_performance(SPEED_FRAMES / FPS, FPS, SEED_BASE)
    sizes = {}
    for size in SPEED_SIZES:
        for _ in render(actor, generate_performance(0.4, FPS, SEED_BASE), scene, size):
            pass  # warm-up: GL context, shaders, face model
        seconds, splits = [], []
        for _ in range(runs):
            spent.update(dict.fromkeys(spent, 0.0))
            started = time.perf_counter()
            count = sum(1 for _ in render(actor, performance, scene, size))
            seconds.append(time.perf_counter() - started)
            splits.append({**spent, "other": seconds[-1] - sum(spent.values())})
        best = seconds.index(statistics.median_low(seconds))
        sizes[str(size)] = {
            "frames": count, "runs": runs,
            "fps_median": count / statistics.median(seconds),
            "ms_per_frame_median": 1e3 * statistics.median(seconds) / count,
            "fps_runs": [count / s for s in seconds],
            "split_ms_per_frame": {name: 1e3 * value / count
                                   for name, value in splits[best].items()},
        }
    pinned = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(json.dumps({"cores": pinned, "lp_num_threads": os.environ.get("LP_NUM_THREADS"),
                      "sizes": sizes}))


# -- judging and reporting ---------------------------------------------------------------------


def judge(results: Result) -> list[Result]:
    found, one = results["detection"], results["speed"]["one_core"]["sizes"]
    near, far = found["near"], found["far"]

    def at_least(value: float | None, bar: float) -> bool | None:
        return None if value is None else value >= bar

    bars = [
        {"name": "mediapipe 0-30", "what": f"faces found, abs yaw <= 30 ({near['frames']} frames)",
         "value": near["mediapipe_rate"], "limit": f">= {MP_NEAR_BAR:g}",
         "pass": at_least(near["mediapipe_rate"], MP_NEAR_BAR)},
        {"name": "mediapipe 30-45",
         "what": f"faces found, 30 < abs yaw <= 45 ({far['frames']} frames)",
         "value": far["mediapipe_rate"], "limit": f">= {MP_FAR_BAR:g}",
         "pass": at_least(far["mediapipe_rate"], MP_FAR_BAR)},
        {"name": "landmark error", "what": "median / outer-eye-corner distance, abs yaw <= 30",
         "value": near["error_median"], "limit": f"<= {ERROR_BAR:g}",
         "pass": None if near["error_median"] is None else near["error_median"] <= ERROR_BAR},
        {"name": "dlib HOG 0-15", "what": "faces found (IoU > 0.3), abs yaw <= 15",
         "value": found["frontal_dlib_rate"], "limit": f">= {DLIB_BAR:g}",
         "pass": at_least(found["frontal_dlib_rate"], DLIB_BAR)},
    ]
    for size in SPEED_SIZES:
        fps = one[str(size)]["fps_median"]
        bars.append({"name": f"render {size}px", "what": f"fps at {size}x{size}, one core",
                     "value": fps, "limit": f">= {SPEED_BARS[size]:g}",
                     "pass": fps >= SPEED_BARS[size]})
    return bars


def describe_machine(quick: bool) -> Result:
    import dlib
    import mediapipe

    return {**machine_facts("synth", quick), "numpy": np.__version__,
            "mediapipe": mediapipe.__version__, "dlib": dlib.__version__}


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def format_table(results: Result) -> str:
    machine, found, speed = results["machine"], results["detection"], results["speed"]
    groups = ("eyes", "mouth", "contour")
    lines = [
        f"synth: {machine['cpu']}, {machine['cores']} cores, mediapipe {machine['mediapipe']}, "
        f"dlib {machine['dlib']}",
        "",
        f"detection at {SIZE}x{SIZE}: {found['actors']} actors x {found['frames_per_actor']} "
        f"frames (seeds {found['seeds'][0]}-{found['seeds'][1]}), max |yaw| "
        f"{found['max_abs_yaw']:.1f}; error = median point distance / true outer-eye-corner "
        "distance",
        f"  {'|yaw|':<8} {'frames':>6} {'mediapipe':>10} {'dlib':>6} {'err med':>8} "
        f"{'err p90':>8} {'eyes':>6} {'mouth':>6} {'contour':>8}",
    ]
    for row in found["bins"]:
        lines.append(f"  {row['bin']:<8} {row['frames']:>6} "
                     f"{_number(row['mediapipe_rate'], '.1%'):>10} "
                     f"{_number(row['dlib_rate'], '.1%'):>6} "
                     f"{_number(row['error_median'], '.2%'):>8} "
                     f"{_number(row['error_p90'], '.2%'):>8} "
                     + " ".join(f"{_number(row['error_' + g], '.2%'):>{max(6, len(g))}}"
                                for g in groups))
    for label, key in (("0-30", "near"), ("30-45", "far")):
        row = found[key]
        lines.append(f"  {label:<8} {row['frames']:>6} "
                     f"{_number(row['mediapipe_rate'], '.1%'):>10} {'':>6} "
                     f"{_number(row['error_median'], '.2%'):>8} {'':>8} "
                     + " ".join(f"{_number(row['error_' + g], '.2%'):>{max(6, len(g))}}"
                                for g in groups))
    lines.append("  per actor (mediapipe / dlib 0-15 / error): " + ", ".join(
        f"{a['actor']}: {_number(a['mediapipe_rate'], '.0%')}/"
        f"{_number(a['dlib_frontal_rate'], '.0%')}/{_number(a['error_median'], '.1%')}"
        for a in found["per_actor"]))
    lines += ["", f"render speed ({SPEED_FRAMES} frames a run, median of "
              f"{speed['one_core']['sizes'][str(SPEED_SIZES[0])]['runs']} runs after a warm-up)",
              f"  {'mode':<16} {'size':>5} {'fps':>7} {'ms/frame':>9}   split ms/frame "
              "(head build / rasterise / degrade / other)"]
    for mode, timing in speed.items():
        for size, row in timing["sizes"].items():
            split = row["split_ms_per_frame"]
            lines.append(f"  {mode:<16} {size:>5} {row['fps_median']:>7.1f} "
                         f"{row['ms_per_frame_median']:>9.2f}   "
                         f"{split['head_build']:.2f} / {split['rasterise']:.2f} / "
                         f"{split['degrade']:.2f} / {split['other']:.2f}")
    lines += ["", "bars"]
    lines += bar_lines(results["bars"])
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    machine, found, speed = results["machine"], results["detection"], results["speed"]
    lines = [
        *markdown_heading("synth", machine,
                          f"numpy {machine['numpy']}, mediapipe {machine['mediapipe']}, "
                          f"dlib {machine['dlib']}", results["wall_seconds"]),
        *bar_table(results["bars"]),
        "",
        f"Detection at {SIZE}x{SIZE}, {found['actors']} actors x {found['frames_per_actor']} "
        f"frames (seeds {found['seeds'][0]}-{found['seeds'][1]}). Error: per frame, the median "
        "over the 478 points of |detected - true| divided by the true distance between the outer "
        "eye corners (33, 263) in that frame; the table gives medians over frames.",
        "",
        "| abs yaw | frames | mediapipe found | dlib found | error | error p90 | eyes | mouth "
        "| contour |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['bin']} | {r['frames']} | {_number(r['mediapipe_rate'], '.1%')} "
          f"| {_number(r['dlib_rate'], '.1%')} | {_number(r['error_median'], '.2%')} "
          f"| {_number(r['error_p90'], '.2%')} | {_number(r['error_eyes'], '.2%')} "
          f"| {_number(r['error_mouth'], '.2%')} | {_number(r['error_contour'], '.2%')} |"
          for r in found["bins"]),
        "",
        f"Render speed, {SPEED_FRAMES} frames a run, median after a warm-up "
        "(one core: pinned to core 0, LP_NUM_THREADS=0):",
        "",
        "| mode | size | fps | ms/frame | head build | rasterise | degrade | other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {mode} | {size} | {row['fps_median']:.1f} | {row['ms_per_frame_median']:.2f} "
          f"| {row['split_ms_per_frame']['head_build']:.2f} "
          f"| {row['split_ms_per_frame']['rasterise']:.2f} "
          f"| {row['split_ms_per_frame']['degrade']:.2f} "
          f"| {row['split_ms_per_frame']['other']:.2f} |"
          for mode, timing in speed.items() for size, row in timing["sizes"].items()),
    ]
    return "\n".join(lines) + "\n"
