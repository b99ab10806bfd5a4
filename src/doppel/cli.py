"""`doppel <command>`: thin. Each command's arguments come from its stage's Config dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doppel import __version__
from doppel.config import add_arguments, build_config, load_toml
from doppel.errors import DoppelError
from doppel.runtime import Runtime


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    config: type
    run: Callable[[Any, Runtime], int | None]


def _commands() -> list[Command]:
    from doppel import bench, demo
    from doppel.detect import commands as detect
    from doppel.extract import commands as extract
    from doppel.faceset import commands as faceset
    from doppel.media import commands as media
    from doppel.provenance import commands as provenance
    from doppel.swap import commands as swap
    from doppel.synth import commands as synth
    from doppel.train import commands as train

    return [
        Command("probe", "show size, frame rate, frame count, audio and rotation of media files",
                media.ProbeConfig, media.run_probe),
        Command("cut", "re-encode a time range of a video, keeping its audio in sync",
                media.CutConfig, media.run_cut),
        Command("verify", "check a file's C2PA manifest and invisible watermark",
                provenance.VerifyConfig, provenance.run_verify),
        Command("extract", "collect one person's aligned faces from videos and photos into a "
                "faceset", extract.ExtractConfig, extract.run_extract),
        Command("faceset", "show what a faceset holds (info) or write a contact sheet of its "
                "faces (sheet)", faceset.FacesetConfig, faceset.run_faceset),
        Command("train", "learn a face-swap model from a source and a target faceset",
                train.TrainConfig, train.run_train),
        Command("swap", "replace a person's face in a video, photo or folder of photos with "
                "a trained model's source face (labelled output)", swap.SwapConfig,
                swap.run_swap),
        Command("detect", "judge whether the faces in a video or photo are swapped: provenance "
                "(manifest, watermark) and a forensic detector", detect.DetectConfig,
                detect.run_detect),
        Command("detector", "train the forensic detector from synthetic actors",
                detect.DetectorConfig, detect.run_detector),
        Command("synth", "render clips of synthetic actors (people who do not exist) with their "
                "ground truth", synth.SynthConfig, synth.run_synth),
        Command("demo", "the whole pipeline on two synthetic actors, shown in DIR/report.html",
                demo.DemoConfig, demo.run),
        Command("bench", "run benchmarks and write JSON + markdown results",
                bench.BenchConfig, bench.run),
    ]


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before and after the command name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                        default=default if suppress else "auto",
                        help="compute device (default: auto = cuda, then mps, then cpu)")
    parser.add_argument("--threads", type=int, default=default if suppress else 0,
                        help="CPU threads to use (default: 0 = all cores)")
    parser.add_argument("--config", type=Path, default=default, metavar="TOML",
                        help="settings file; [command] tables give defaults "
                             "(default: CONFIG_DIR/config.toml if it exists)")
    parser.add_argument("-v", "--verbose", action="count", default=default if suppress else 0,
                        help="more detail; with an error, show its traceback")
    parser.add_argument("-q", "--quiet", action="store_true", default=default if suppress
                        else False, help="only errors; no progress bars")


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doppel",
        description="Face swapping that labels what it makes. Every command has --help.",
    )
    parser.add_argument("--version", action="version", version=f"doppel {__version__}")
    _global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        add_arguments(sub, command.config)
        _global_options(sub.add_argument_group("global options"), suppress=True)
    return parser


def _user_dir(variable: str, fallback: str) -> Path:
    base = os.environ.get(variable) or str(Path.home() / fallback)
    return Path(base) / "doppel"


def _settings(args: argparse.Namespace, config_dir: Path, command: str) -> dict[str, Any]:
    path = args.config or (config_dir / "config.toml")
    if args.config is None and not path.exists():
        return {}
    return load_toml(path, command)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("doppel: %(levelname)s: %(message)s"))
    root = logging.getLogger("doppel")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    commands = _commands()
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    command = next(c for c in commands if c.name == args.command)
    try:
        config_dir = _user_dir("XDG_CONFIG_HOME", ".config")
        runtime = Runtime(device=args.device, threads=args.threads, config_dir=config_dir,
                          cache_dir=_user_dir("XDG_CACHE_HOME", ".cache"),
                          progress=not args.quiet and sys.stderr.isatty())
        given = {f.name for f in dataclasses.fields(Runtime)} | {
            "command", "config", "verbose", "quiet"}
        typed = {k: v for k, v in vars(args).items() if k not in given}
        config = build_config(command.config, _settings(args, config_dir, command.name), typed)
        return int(command.run(config, runtime) or 0)
    except DoppelError as error:
        if args.verbose:
            traceback.print_exc()
        print(f"doppel: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("doppel: interrupted; unfinished outputs were removed", file=sys.stderr)
        return 130
