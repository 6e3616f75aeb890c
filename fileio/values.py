"""Value: equality, hash and repr from the attributes a class names in ``__slots__``, for fileio's small value
classes (the workloads). ``dataclasses`` would give them, but costs ``import fileio`` about 20 ms on Python
3.11 (``-X importtime``): importing it (with ``inspect``) and generating each class's methods."""

from __future__ import annotations


class Value:
    """Equal to another of its exact class whose fields (``__slots__``, its bases' first) are equal; hashed
    and shown by them."""

    __slots__ = ()

    def astuple(self) -> tuple[object, ...]:
        """Its fields' values, in the order of its ``__slots__``."""
        return tuple(getattr(self, name) for name in _slot_names(type(self)))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Value):
            return NotImplemented
        return other.astuple() == self.astuple()

    def __hash__(self) -> int:
        return hash((type(self), self.astuple()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _slot_names(type(self)))
        return f"{type(self).__qualname__}({shown})"


class Frozen(Value):
    """A Value whose fields cannot change once its ``__init__`` has set them, by :meth:`_freeze`."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__qualname__} is frozen")

    def _freeze(self, fields: dict[str, object]) -> None:
        """Set every field from ``fields`` (an ``__init__``'s ``locals()``)."""
        for name in _slot_names(type(self)):
            object.__setattr__(self, name, fields[name])


def _slot_names(cls: type) -> list[str]:
    return [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]
