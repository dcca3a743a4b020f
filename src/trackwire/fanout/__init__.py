"""One Segment-spec call to every vendor: ``trackwire.FanOut``.

Teams moving between vendors, or sending to two during a migration, keep writing the Segment
calls their code already speaks; a :class:`FanOut` sends each configured client its own shape::

    import trackwire

    fanout = trackwire.FanOut(
        segment=trackwire.Segment("WRITE_KEY"),
        amplitude=trackwire.Amplitude("API_KEY"),
        mparticle=trackwire.MParticle("KEY", "SECRET", environment="production"),
        mappings={"amplitude": {"track": {"event": {"Order Completed": "Purchase"}}}},
        filters={"mparticle": {"identify", "Order Completed"}},
    )
    receipt = fanout.track("user-1", "Order Completed", {"revenue": 39.95})
    fanout.flush(timeout=5)          # one deadline for every vendor, waited on in parallel
    receipt.results["amplitude"].ok  # each destination resolves on its own
    fanout.stats()["mparticle"]      # counters by destination

The mappings (documented in full in :mod:`trackwire.fanout.mappings`):

- ``track`` -> an Amplitude event (``event_type`` = event, ``event_properties`` = properties,
  revenue fields when present) / an mParticle ``custom_event`` (``custom_event_type`` other).
- ``identify`` -> Amplitude ``$identify`` with ``{"$set": traits}`` / mParticle
  ``user_attributes`` = traits, identities ``customer_id`` (userId), ``other``
  (anonymousId), ``email`` (the email trait).
- ``group`` -> Amplitude ``$identify`` setting ``groups`` ``{group_type: groupId}`` plus a
  ``$groupidentify`` with ``{"$set": traits}`` / mParticle user attribute ``group_type`` =
  groupId (mParticle has no groups; group traits are not sent).
- ``page``/``screen`` -> Amplitude ``Viewed <name> Page``/``Screen`` (unnamed: ``Loaded a
  Page``/``Screen``) / an mParticle ``screen_view`` named after the page or screen.
- ``alias`` -> not sent to Amplitude (HTTP V2 has no alias; skipped as ``no_mapping``) / an
  mParticle ``user_identity_change`` from ``other`` = previousId to ``customer_id`` = userId.
- Segment gets the message itself. The messageId is Amplitude's ``insert_id`` and mParticle's
  ``source_request_id`` and ``source_message_id``, so every vendor de-duplicates retries.

Overrides, per destination: a function ``fn(message) -> payload | list | None`` (for every
call, or per call type), or a table renaming event names, property keys and trait keys
(``{"event": {"Old": "New", "Noise": None}, "properties": {...}, "traits": {...}}``; None
means not sent there). A filter (``fn(message) -> bool`` or a set of call types and event
names) chooses what a destination receives; Segment's own ``integrations`` object
(``{"Amplitude": False}``, ``{"All": False, "Segment": True}``) is honoured too.

Failure is per destination: a vendor that is down or slow fills only its own queue; a client
that refuses its shape of a call (Amplitude drops ids shorter than 5 characters, say) fails
only that destination's receipt (reason ``rejected``, logged); a mapping or filter that raises
drops the call for its destination (reason ``middleware_error``). Only when every destination
refuses does the call raise, at the call site.
"""

from __future__ import annotations

from trackwire.fanout.client import FanOut
from trackwire.fanout.mappings import amplitude_events, mparticle_batch, segment_message
from trackwire.fanout.receipt import FanOutReceipt

__all__ = ["FanOut", "FanOutReceipt", "amplitude_events", "mparticle_batch", "segment_message"]
