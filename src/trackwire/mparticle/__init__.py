"""mParticle's Events API v2 rules, written once for the SDK and the collector.

:mod:`.schema` holds the enums, identity keys, consent fields and limits; :mod:`.wire` the
batch checks, ingest helpers, response bodies and their meaning. The client builds on them in
a later release; the collector already uses them to accept what mParticle's own SDKs send.
"""
