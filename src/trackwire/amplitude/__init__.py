"""Amplitude: the HTTP V2, Batch, Identify and Group Identify wire rules (:mod:`.wire`).

The client (events, identify operations, revenue, query API) builds on these in a later
release; the collector already uses them to accept what Amplitude's own SDKs send.
"""
