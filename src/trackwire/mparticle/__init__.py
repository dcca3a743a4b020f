"""mParticle: the Events API v2 wire rules (:mod:`.wire`): batches, events, limits, answers.

The client builds on these in a later release; the collector already uses them to accept
what mParticle's own SDKs send.
"""
