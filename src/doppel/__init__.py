"""doppel: face swapping that labels what it makes."""

from doppel.errors import DoppelError

__version__ = "0.1.0"
__all__ = ["DoppelError", "__version__"]
