"""Named plugins (detectors, blends, models …) chosen by name or passed as objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from doppel.errors import DoppelError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> plugin table for one kind of plugin.

    Registering a name twice raises, so a plugin can never silently replace another.
    Plugins import their heavy dependencies when used, not when registered.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name_or_entry: str | T) -> T:
        if not isinstance(name_or_entry, str):
            return name_or_entry
        try:
            return self._entries[name_or_entry]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise DoppelError(
                f"unknown {self.kind} {name_or_entry!r}: choose one of {known}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
