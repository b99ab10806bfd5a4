import argparse
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import pytest

from doppel.config import add_arguments, build_config, check_fields, load_toml, to_dict
from doppel.errors import DoppelError


@dataclass(frozen=True)
class Inner:
    crf: int = field(default=18, metadata={"help": "quality", "min": 0, "max": 51})

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class Example:
    inputs: tuple[Path, ...] = field(metadata={"help": "inputs", "positional": True})
    output: Path = field(metadata={"help": "output", "short": "-o"})
    mode: Literal["fast", "good"] = field(default="good", metadata={"help": "mode"})
    rate: Fraction = field(default=Fraction(30), metadata={"help": "fps"})
    limit: int | None = field(default=None, metadata={"help": "limit"})
    flag: bool = field(default=False, metadata={"help": "flag"})
    video: Inner = field(default_factory=Inner, metadata={"help": "encoding"})

    def __post_init__(self):
        check_fields(self)


def parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser, Example)
    return vars(parser.parse_args(argv))


def test_cli_arguments_come_from_fields_with_conversion():
    typed = parse(["a.mp4", "b.mp4", "-o", "out.mp4", "--mode", "fast", "--rate", "30000/1001",
                   "--flag", "--crf", "20"])
    config = build_config(Example, typed)
    assert config.inputs == (Path("a.mp4"), Path("b.mp4"))
    assert config.output == Path("out.mp4")
    assert config.mode == "fast"
    assert config.rate == Fraction(30000, 1001)
    assert config.flag is True
    assert config.video == Inner(crf=20)


def test_untyped_options_keep_defaults_and_later_layers_win():
    typed = parse(["a.mp4", "-o", "o.mp4"])
    assert "mode" not in typed  # only what the user typed reaches build_config
    config = build_config(Example, {"mode": "fast", "crf": 30}, typed)
    assert config.mode == "fast" and config.video.crf == 30 and config.limit is None
    config = build_config(Example, {"mode": "fast"}, {**typed, "mode": "good"})
    assert config.mode == "good"


def test_bad_values_are_user_errors():
    with pytest.raises(DoppelError, match="not one of"):
        build_config(Example, {"inputs": ["a"], "output": "o", "mode": "slow"})
    with pytest.raises(DoppelError, match="out of range"):
        build_config(Example, {"inputs": ["a"], "output": "o", "crf": 99})
    with pytest.raises(DoppelError, match="not a valid int"):
        build_config(Example, {"inputs": ["a"], "output": "o", "limit": "many"})
    with pytest.raises(DoppelError, match="unknown setting"):
        build_config(Example, {"inputs": ["a"], "output": "o", "colour": "red"})
    with pytest.raises(DoppelError, match="missing required"):
        build_config(Example, {"inputs": ["a"]})


def test_toml_section_loads_into_the_same_dataclass(tmp_path):
    settings = tmp_path / "config.toml"
    settings.write_text('[cut]\nmode = "fast"\ncrf = 23\n[other]\nx = 1\n')
    layer = load_toml(settings, "cut")
    config = build_config(Example, layer, {"inputs": ["a"], "output": "o"})
    assert config.mode == "fast" and config.video.crf == 23
    assert load_toml(settings, "missing") == {}
    broken = tmp_path / "broken.toml"
    broken.write_text("[cut\n")
    with pytest.raises(DoppelError, match="not valid TOML"):
        load_toml(broken, "cut")


def test_to_dict_is_json_ready():
    config = Example(inputs=(Path("a"),), output=Path("o"))
    assert to_dict(config) == {"inputs": ["a"], "output": "o", "mode": "good", "rate": "30",
                               "limit": None, "flag": False, "video": {"crf": 18}}


def test_a_command_can_default_a_nested_setting_its_own_way():
    @dataclass(frozen=True)
    class Swapish:
        output: Path = field(metadata={"help": "output", "short": "-o"})
        video: Inner = field(default_factory=lambda: Inner(crf=23),
                             metadata={"help": "encoding"})

    assert build_config(Swapish, {"output": "o.mp4"}).video.crf == 23
    assert build_config(Swapish, {"output": "o.mp4", "crf": 30}).video.crf == 30
    parser = argparse.ArgumentParser()
    add_arguments(parser, Swapish)
    assert "(default: 23)" in parser.format_help()
