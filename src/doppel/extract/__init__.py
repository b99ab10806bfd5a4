"""Extract: videos and photos of a person -> aligned, masked faces in a faceset
(`doppel extract`)."""

from doppel.extract.commands import ExtractConfig, run_extract
from doppel.extract.pipeline import ExtractSummary, extract

__all__ = ["ExtractConfig", "ExtractSummary", "extract", "run_extract"]
