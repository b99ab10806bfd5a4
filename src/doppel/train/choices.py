"""The names training offers, as Literal types (the command line's choices come from them),
in a module that imports nothing heavy."""

from typing import Literal

Architecture = Literal["df", "liae"]
Preset = Literal["tiny", "base", "hq"]
Precision = Literal["auto", "fp32", "bf16"]
Side = Literal["source", "target"]
