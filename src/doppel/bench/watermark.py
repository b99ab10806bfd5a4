"""The watermark benchmark (being written)."""

from doppel.bench import BenchConfig
from doppel.runtime import Runtime


def run(config: BenchConfig, runtime: Runtime) -> None:
    raise NotImplementedError
