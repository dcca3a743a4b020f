"""The collector: a local server speaking Segment's, Amplitude's and mParticle's HTTP APIs.

It stores what it accepts in SQLite, or in PostgreSQL with the ``postgres`` extra (:mod:`.store`,
:mod:`.store_factory`), and is run by ``trackwire collector`` or, from Python and tests, by
:func:`trackwire.collector.server.start_collector`. Needs the ``collector`` extra (Starlette,
uvicorn, rich).
"""
