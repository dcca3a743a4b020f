"""Amplitude's wire rules, written once for the SDK and the collector.

:mod:`.wire` holds the HTTP V2 and Batch ingestion rules (fields, limits, response bodies and
their meaning), :mod:`.properties` the user- and group-property operations, and
:mod:`.identify` the Identify and Group Identify form APIs. The client (events, identify,
revenue, query API) builds on them in a later release; the collector already uses them to
accept what Amplitude's own SDKs send.
"""
