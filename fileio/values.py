"""Value: equality, hash and repr from the attributes a class names in ``__slots__``, for fileio's small value
classes (the workloads). ``dataclasses`` would give them, but costs ``import fileio`` about 20 ms on Python
3.11 (``-X importtime``): importing it (with ``inspect``) and generating each class's methods."""

from __future__ import annotations


class Value:
    """Equal to another of its exact class whose fields (``__slots__``, its bases' first) are equal; hashed
    and shown by them."""

    __slots__ = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _slot_names(type(self)))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Value):
            return NotImplemented
        return other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _slot_names(type(self)))
        return f"{type(self).__qualname__}({shown})"


def _slot_names(cls: type) -> list[str]:
    return [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]
