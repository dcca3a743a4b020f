"""The collector's web page: static files, sign-in sessions and who may read what.

The page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing loaded from
elsewhere) is served at ``/`` by :mod:`trackwire.collector.routes.viewer` and reads the same JSON
APIs a script would (``/events``, ``/stats``, ``/_faults``, the Amplitude query API) plus a few
of its own under ``/_viewer/``.
"""
