"""The batch: one user's data and events, the unit the Events API accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from trackwire.errors import ValidationError
from trackwire.mparticle.models._base import Model, join, plain
from trackwire.mparticle.models.checks import check_built
from trackwire.mparticle.models.enums import Environment
from trackwire.mparticle.models.events import EventBase
from trackwire.mparticle.models.user import (
    ApplicationInformation,
    BatchContext,
    ConsentState,
    DeviceInformation,
    UserIdentities,
)

__all__ = ["Batch"]


@dataclass(repr=False, slots=True)
class Batch(Model):
    """All data about one user sent in one request: identities, attributes and events.

    Build it with keywords, or make it empty and assign attributes, as the official SDKs do::

        batch = Batch("development", user_identities=UserIdentities(customer_id="123456"))
        batch.user_attributes = {"plan": "pro"}
        batch.add_event(AppEvent("Hello World", "navigation"))

    Nothing is checked until the batch is built (:meth:`to_dict` with ``validate``, or an
    upload), and then every problem is a :class:`~trackwire.ValidationError` naming the field.

    Attributes:
        environment: ``"production"`` or ``"development"`` (required; a client may fill it).
        user_identities: the user's identities (customer id, email, ...).
        device_info: the user's device and its advertising ids.
        application_info: the application's name, version, ...
        user_attributes: the user's attributes; values are scalars or lists of strings
            (keys starting with ``$`` are mParticle's reserved ones: ``$firstname`` ...).
        deleted_user_attributes: names of attributes to remove from the profile.
        events: the events, oldest first (any event model, or a ready ``{data, event_type}``
            dict).
        mpid: mParticle's id for the user, if known (a 64-bit integer, sent exactly).
        mp_deviceid: mParticle's device id, if known.
        ip: the user's IP address (IPv4 or IPv6), for location.
        consent_state: GDPR purposes and the CCPA ``data_sale_opt_out`` state.
        source_request_id: the batch's de-duplication id; queued batches get a unique one,
            kept on every retry.
        context: the data plan (and location) to validate the batch with.
        integration_attributes: per-integration attributes, ``{"<module id>": {...}}``.
        partner_identities: registered partner identities.
        schema_version, api_key: accepted for compatibility with the official package, never
            sent (mParticle's schema refuses the first; the second is for its SQS input only).
    """

    Environment: ClassVar[type[Environment]] = Environment

    environment: str | None = None
    user_identities: UserIdentities | None = None
    _: KW_ONLY
    device_info: DeviceInformation | None = None
    application_info: ApplicationInformation | None = None
    user_attributes: dict[str, Any] | None = None
    deleted_user_attributes: list[str] | None = None
    events: list[EventBase | Mapping[str, Any]] = field(default_factory=list)
    mpid: int | str | None = None
    mp_deviceid: str | None = None
    ip: str | None = None
    consent_state: ConsentState | None = None
    source_request_id: str | None = None
    context: BatchContext | None = None
    integration_attributes: dict[str, dict[str, str]] | None = None
    partner_identities: dict[str, str] | None = None
    schema_version: int | None = None
    api_key: str | None = None

    _not_sent: ClassVar[frozenset[str]] = frozenset({"events", "schema_version", "api_key"})

    def add_event(self, event: EventBase | Mapping[str, Any]) -> Batch:
        """Append ``event`` to :attr:`events`; returns the batch, so calls can be chained."""
        if self.events is None:
            self.events = []
        self.events.append(event)
        return self

    def to_dict(self, path: str = "", *, validate: bool = False) -> dict[str, Any]:
        """The batch as mParticle's documented JSON object.

        Args:
            path: prefix for field names in errors (``[3]`` in a bulk upload).
            validate: also check it as mParticle would, and against the service limits.

        Raises:
            ValidationError: naming the first offending field.
        """
        # Model's walk (named explicitly: slots dataclasses break zero-argument super()) sends
        # all but the events, which are wrapped below.
        out = Model.to_dict(self, path)
        events = self.events
        if "mpid" in out:
            out["mpid"] = _mpid(out["mpid"], join(path, "mpid"))
        if events:
            prefix = join(path, "events")
            out["events"] = [
                event.to_event(f"{prefix}[{index}]")
                if isinstance(event, EventBase)
                else plain(event, f"{prefix}[{index}]")
                for index, event in enumerate(events)
            ]
        if validate:
            check_built(out, path)
        return out


def _mpid(value: object, path: str) -> int:
    # JSON carries the 64-bit id exactly as an integer (Python ints never round); a string of
    # digits is accepted because the official package's example assigns one.
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(path, f"must be a 64-bit integer, got {value!r}")
    if not -(2**63) <= value < 2**63:
        raise ValidationError(path, f"{value} does not fit in 64 bits")
    return value
