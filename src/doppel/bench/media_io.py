"""The media-io benchmark: does doppel's media layer stream, and is it about as fast as ffmpeg?

Both bars use the same job: transcode a 1280x720 30 fps test clip with `read_frames` into
`VideoWriter` (H.264, audio copied), which is what every doppel command that writes video does.

Streaming memory: the peak RSS of transcoding a 10 s and a 120 s clip must differ by less than
50 MB (10^6 bytes), so memory does not grow with the length of a video. Each transcode runs in
a fresh process (`doppel.bench._child`), so the peak it reports is that transcode's alone.

Speed: doppel's frames/s divided by the ffmpeg command line's frames/s for the same transcode
with the same x264 preset and crf must be at least 0.8 at WriterConfig's default preset.
"ultrafast" is reported too: there x264 is cheap, so doppel's own overhead (the RGB round trip
and Python) shows. The two tools alternate, so a change in machine load hits both, and the
ratio is the median of each doppel run over the ffmpeg run that follows it. doppel's time is taken inside its process (library throughput, without
Python start-up); ffmpeg's from outside, so it includes ffmpeg's start-up, which favours doppel
by a few tens of milliseconds per run (under 1 % of a 10 s clip's transcode).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from doppel.bench import BenchConfig
from doppel.bench._report import (Say, bar_lines, bar_table, cached_clip, first_line,
                                  machine_facts, markdown_heading, progress_printer, write_results)
from doppel.errors import DoppelError
from doppel.media import WriterConfig, probe
from doppel.runtime import Runtime

WORK = Path("benchmarks/work")
SIZE = (1280, 720)
FPS = Fraction(30)
MEMORY_BAR_MB = 50.0
SPEED_BAR = 0.8
REPORT_ONLY_PRESET = "ultrafast"

Result = dict[str, Any]


def run(config: BenchConfig, runtime: Runtime) -> None:
    ffmpeg = find_ffmpeg()
    short_seconds, long_seconds = (2, 12) if config.quick else (10, 120)
    repetitions = 1 if config.quick else 5
    WORK.mkdir(parents=True, exist_ok=True)
    say = progress_printer("media-io", runtime)
    short = ensure_clip(short_seconds, say)
    long = ensure_clip(long_seconds, say)
    default = WriterConfig()
    results: Result = {
        "suite": "media-io",
        "machine": describe_machine(ffmpeg, config.quick),
        "clip": {"size": list(SIZE), "fps": str(FPS), "short_seconds": short_seconds,
                 "long_seconds": long_seconds},
        "memory": measure_memory(short, long, default, runtime.threads, say),
        "speed": [
            measure_speed(ffmpeg, short, WriterConfig(crf=default.crf, preset=preset),
                          repetitions, runtime.threads, say)
            for preset in (default.preset, REPORT_ONLY_PRESET)
        ],
    }
    results["bars"] = judge(results, default.preset)
    print(format_table(results))
    write_results("media-io", results, format_markdown(results), config.output)


def find_ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DoppelError(
            "the media-io benchmark needs imageio-ffmpeg: pip install 'doppel[test]'"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ensure_clip(seconds: int, say: Say) -> Path:
    return cached_clip(WORK / f"clip-{SIZE[0]}x{SIZE[1]}-{seconds}s.mp4", seconds, SIZE, FPS, say)


# -- measuring ---------------------------------------------------------------------------------


def transcode_with_doppel(source: Path, config: WriterConfig, threads: int) -> Result:
    target = WORK / "out-doppel.mp4"
    command = [sys.executable, "-m", "doppel.bench._child", str(source), str(target),
               "--preset", config.preset, "--crf", str(config.crf), "--threads", str(threads)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"doppel transcode failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    fps = report["frames"] / report["seconds"]
    return {**report, "process_seconds": process_seconds, "fps": fps, **describe_output(target)}


def transcode_with_ffmpeg(ffmpeg: str, source: Path, config: WriterConfig, threads: int,
                          frames: int) -> Result:
    target = WORK / "out-ffmpeg.mp4"
    # -threads before -i caps the decoder, after it the encoder; 0 keeps ffmpeg's own choice.
    limit = ["-threads", str(threads)] if threads else []
    command = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", *limit, "-i", str(source),
               "-c:v", "libx264", "-preset", config.preset, "-crf", str(config.crf),
               "-pix_fmt", "yuv420p", *limit, "-c:a", "copy", str(target)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg transcode failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds,
            **describe_output(target)}


def describe_output(path: Path) -> Result:
    # Frame count and size show that both tools really did the same work.
    return {"frames_out": probe(path).frame_count, "bytes_out": path.stat().st_size}


def measure_memory(short: Path, long: Path, config: WriterConfig, threads: int,
                   say: Say) -> Result:
    runs = {}
    for name, clip in (("short", short), ("long", long)):
        say(f"memory: transcoding {clip.name} in a fresh process")
        result = transcode_with_doppel(clip, config, threads)
        runs[name] = {**result, "clip": str(clip), "frames_in": probe(clip).frame_count,
                      "peak_rss_mb": result["peak_rss_kib"] * 1024 / 1e6}
    growth = runs["long"]["peak_rss_mb"] - runs["short"]["peak_rss_mb"]
    return {"preset": config.preset, "crf": config.crf, "runs": runs, "difference_mb": growth}


def measure_speed(ffmpeg: str, clip: Path, config: WriterConfig, repetitions: int,
                  threads: int, say: Say) -> Result:
    frames = probe(clip).frame_count
    doppel_runs, ffmpeg_runs = [], []
    for repetition in range(repetitions):
        say(f"speed: preset {config.preset}, repetition {repetition + 1}/{repetitions}")
        doppel_runs.append(transcode_with_doppel(clip, config, threads))
        ffmpeg_runs.append(transcode_with_ffmpeg(ffmpeg, clip, config, threads, frames))
    doppel_fps = statistics.median(r["fps"] for r in doppel_runs)
    ffmpeg_fps = statistics.median(r["fps"] for r in ffmpeg_runs)
    # This machine's speed drifts by up to 1.5x over minutes: each doppel run is compared with
    # the ffmpeg run right after it, and the median of those ratios is the result.
    pair_ratios = [d["fps"] / f["fps"] for d, f in zip(doppel_runs, ffmpeg_runs)]
    return {"preset": config.preset, "crf": config.crf, "clip": str(clip), "frames_in": frames,
            "doppel": {"median_fps": doppel_fps, "runs": doppel_runs},
            "ffmpeg": {"median_fps": ffmpeg_fps, "runs": ffmpeg_runs},
            "pair_ratios": pair_ratios, "ratio": statistics.median(pair_ratios)}


def judge(results: Result, default_preset: str) -> list[Result]:
    memory = results["memory"]["difference_mb"]
    bars = [{"name": "streaming memory",
             "what": "peak RSS, long clip minus short clip (MB)",
             "value": memory, "limit": f"< {MEMORY_BAR_MB:g}", "pass": memory < MEMORY_BAR_MB}]
    for speed in results["speed"]:
        report_only = speed["preset"] != default_preset
        bars.append({"name": f"speed, preset {speed['preset']}",
                     "what": "doppel fps / ffmpeg fps", "value": speed["ratio"],
                     "limit": "report only" if report_only else f">= {SPEED_BAR:g}",
                     "pass": None if report_only else speed["ratio"] >= SPEED_BAR})
    return bars


def describe_machine(ffmpeg: str, quick: bool) -> Result:
    return {**machine_facts("media-io", quick), "pyav": av.__version__,
            "ffmpeg": first_line([ffmpeg, "-version"])}


# -- reporting ---------------------------------------------------------------------------------


def format_table(results: Result) -> str:
    memory, machine = results["memory"], results["machine"]
    lines = [
        f"media-io: {machine['cpu']}, {machine['cores']} cores, PyAV {machine['pyav']}",
        "",
        f"streaming memory (doppel transcode, preset {memory['preset']}, crf {memory['crf']})",
        f"  {'clip':<34} {'frames':>7} {'seconds':>8} {'peak RSS MB':>12}",
    ]
    for run_ in memory["runs"].values():
        lines.append(f"  {Path(run_['clip']).name:<34} {run_['frames']:>7} "
                     f"{run_['seconds']:>8.1f} {run_['peak_rss_mb']:>12.1f}")
    clip = Path(results["speed"][0]["clip"]).name
    lines += ["", f"speed on {clip} (frames/s, median; doppel vs the ffmpeg command line, "
              "same x264 settings)",
              f"  {'preset':<10} {'crf':>4} {'doppel':>8} {'ffmpeg':>8} {'ratio':>6}"]
    for speed in results["speed"]:
        lines.append(f"  {speed['preset']:<10} {speed['crf']:>4} "
                     f"{speed['doppel']['median_fps']:>8.1f} {speed['ffmpeg']['median_fps']:>8.1f} "
                     f"{speed['ratio']:>6.2f}")
    lines += ["", "bars"]
    lines += bar_lines(results["bars"], digits=2, width=26)
    lines += [f"  warning: {w}" for w in frame_mismatches(results)]
    return "\n".join(lines)


def frame_mismatches(results: Result) -> list[str]:
    """Runs whose output lost or gained frames: their timing would not be comparable."""
    found = []
    for run_ in results["memory"]["runs"].values():
        if run_["frames_out"] != run_["frames_in"]:
            found.append(f"{run_['clip']}: {run_['frames_in']} frames in, {run_['frames_out']} out")
    for speed in results["speed"]:
        for tool in ("doppel", "ffmpeg"):
            for run_ in speed[tool]["runs"]:
                if run_["frames_out"] != speed["frames_in"]:
                    found.append(f"{tool} {speed['preset']}: {speed['frames_in']} frames in, "
                                 f"{run_['frames_out']} out")
    return found


def format_markdown(results: Result) -> str:
    machine = results["machine"]
    lines = [
        *markdown_heading("media-io", machine, f"PyAV {machine['pyav']}, {machine['ffmpeg']}"),
        *bar_table(results["bars"], digits=2),
    ]
    lines += ["", "| preset | crf | doppel fps | ffmpeg fps | ratio |", "|---|---:|---:|---:|---:|"]
    for speed in results["speed"]:
        lines.append(f"| {speed['preset']} | {speed['crf']} | {speed['doppel']['median_fps']:.1f} "
                     f"| {speed['ffmpeg']['median_fps']:.1f} | {speed['ratio']:.2f} |")
    lines += ["", "| clip | frames | seconds | peak RSS MB |", "|---|---:|---:|---:|"]
    for run_ in results["memory"]["runs"].values():
        lines.append(f"| {Path(run_['clip']).name} | {run_['frames']} | {run_['seconds']:.1f} "
                     f"| {run_['peak_rss_mb']:.1f} |")
    return "\n".join(lines) + "\n"


