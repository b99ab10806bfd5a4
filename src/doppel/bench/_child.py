"""One doppel transcode in a fresh process, so the peak RSS it reports is that transcode's alone.

    python -m doppel.bench._child IN OUT --preset P --crf C [--threads N]

Prints one JSON line on stdout: frames written, seconds spent transcoding (probe, decode,
RGB round trip, encode, audio copy, mux) and the process's peak RSS in KiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path

from doppel.media import VideoWriter, WriterConfig, probe, read_frames


def transcode(source: Path, target: Path, config: WriterConfig, threads: int) -> int:
    """Re-encode `source` into `target` the way doppel's commands do; return the frame count."""
    info = probe(source)
    with VideoWriter(target, info.fps, audio_from=source, config=config,
                     threads=threads) as writer:
        for frame in read_frames(source, threads=threads):
            writer.write(frame)
    return writer.frames_written


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m doppel.bench._child")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--preset", default=WriterConfig().preset)
    parser.add_argument("--crf", type=int, default=WriterConfig().crf)
    parser.add_argument("--threads", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    config = WriterConfig(crf=args.crf, preset=args.preset)
    start = time.perf_counter()
    frames = transcode(args.source, args.target, config, args.threads)
    seconds = time.perf_counter() - start
    print(json.dumps({"frames": frames, "seconds": seconds, "peak_rss_kib": peak_rss_kib()}))


def peak_rss_kib() -> int:
    """This process's peak resident memory in KiB since its program started.

    Linux's VmHWM, not getrusage's ru_maxrss: at exec the kernel carries the forking
    parent's peak into ru_maxrss, so a child of a benchmark that holds a clip in memory
    reported the parent's 500 MiB for a 75 MiB decode."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


if __name__ == "__main__":
    main()
