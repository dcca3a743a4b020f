"""The one base of every compat model: a field table, checked assignment, ``to_dict()``.

The official package's models are generated code, one property pair per field. Here each model
is its field table (``swagger_types``, in the official names and types), its constructor order
and its checks; :class:`Model` does the rest the same way for all of them:

- ``Model(*args, **kwargs)`` takes the official constructor's arguments, in its order;
- assigning a checked field runs its check (``ValueError``, as the official raises), in the
  constructor as after it (the official constructor skips some: here they always run);
- ``to_dict()`` lists every field, None when unset, nested models as dicts, as the official;
- :func:`wire` gives the JSON body mParticle documents: None fields left out, nested models
  turned into objects, dates as ISO text.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

__all__ = [
    "Check",
    "Model",
    "check_attribute_bag",
    "check_uuid",
    "one_of",
    "uuid_error",
    "valid_attribute_bag",
    "wire",
]

#: A field check: ``check(field, value)`` raises ValueError for a bad value (never for None).
Check = Callable[[str, Any], None]

_SCALARS = (str, int, float, bool)


class Model:
    """Base of the compat models (the official ``mparticle.models.*`` classes).

    Subclasses declare ``swagger_types`` (field -> official type name, in wire order),
    optionally ``order`` (the constructor's positional order when it differs), ``defaults``,
    ``checks`` and ``wire_names`` (a field sent under another JSON name).
    """

    swagger_types: ClassVar[Mapping[str, str]] = {}
    order: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[Mapping[str, Any]] = {}
    checks: ClassVar[Mapping[str, Check]] = {}
    wire_names: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.order or tuple(self.swagger_types)
        kind = type(self).__name__
        if len(args) > len(names):
            raise TypeError(f"{kind}() takes at most {len(names)} positional arguments")
        values = dict(zip(names[: len(args)], args, strict=True))
        for name, value in kwargs.items():
            if name not in self.swagger_types:
                raise TypeError(f"{kind}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{kind}() got multiple values for argument {name!r}")
            values[name] = value
        for name in self.swagger_types:
            setattr(self, name, values.get(name, self.defaults.get(name)))

    @property
    def attribute_map(self) -> dict[str, str]:
        """Field name -> JSON key, as the official models have it (the same names)."""
        return {name: name for name in self.swagger_types}

    def __setattr__(self, name: str, value: Any) -> None:
        check = self.checks.get(name)
        if check is not None and value is not None:
            check(name, value)
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (None when unset); nested models as their own ``to_dict()``."""
        return {name: _plain(getattr(self, name, None)) for name in self.swagger_types}

    def to_str(self) -> str:
        """The ``to_dict()`` as text."""
        return repr(self.to_dict())

    def __repr__(self) -> str:
        return self.to_str()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: not hashable


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def wire(value: Any) -> Any:
    """``value`` as JSON-ready data in mParticle's documented shape.

    Models become objects without their None fields (under their ``wire_names``); dates,
    datetimes and times become ISO text and Decimals numbers' text, as the official serialiser
    does; lists, tuples and dicts are converted item by item.
    """
    if isinstance(value, Model):
        names = value.wire_names
        return {
            names.get(name, name): wire(item)
            for name in value.swagger_types
            if (item := getattr(value, name, None)) is not None
        }
    if isinstance(value, list | tuple):
        return [wire(item) for item in value]
    if isinstance(value, dict):
        return {str(key): wire(item) for key, item in value.items()}
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def valid_attribute_bag(bag: Mapping[str, Any] | None) -> bool:
    """True when every value is None, a str, an int, a float or a bool (mParticle's rule)."""
    if bag is None:
        return True
    return all(item is None or isinstance(item, _SCALARS) for item in bag.values())


def check_attribute_bag(field: str, bag: Any) -> None:
    """The custom-attributes check: a dict of scalar values (no lists, no nested objects)."""
    if not isinstance(bag, Mapping) or not valid_attribute_bag(bag):
        raise ValueError(
            f"Invalid {field}: {bag!r}; values must be str, int, float, bool or None "
            "(send a list as a comma-separated string)"
        )


def one_of(allowed: Iterable[str]) -> Check:
    """A check that the value is one of ``allowed`` (the official enum lists)."""
    values = tuple(allowed)

    def check(field: str, value: Any) -> None:
        if value not in values:
            raise ValueError(f"Invalid value for `{field}` ({value!r}), must be one of {values}")

    return check


def uuid_error(text: str | None) -> ValueError | None:
    """None if ``text`` is None or a UUID (any case, with or without dashes), else the error."""
    if text is None:
        return None
    try:
        uuid.UUID(text)
    except (ValueError, TypeError, AttributeError) as error:
        return ValueError(str(error))
    return None


def check_uuid(field: str, value: Any) -> None:
    """The advertising-id check: the value must parse as a UUID."""
    error = uuid_error(value)
    if error is not None:
        raise ValueError(f'Error: "{error}", while setting {field} with value: {value}')
