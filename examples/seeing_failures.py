"""Why delivery failed, in the three places it shows: the receipt, a hook and the log.

``track()`` never raises on a network problem. This program sends to a port where nothing
listens, on purpose, and prints what each place says. It exits 0 when every place told why.
"""

from __future__ import annotations

import logging
import socket
import sys

import trackwire

# A library logs nothing until the application configures logging: one line does it.
logging.basicConfig(level=logging.WARNING, format="log: %(message)s")

with socket.socket() as probe:  # a port nothing listens on
    probe.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{probe.getsockname()[1]}"

reports = []
analytics = trackwire.Segment("example-write-key", host=dead, max_retries=1)
analytics.on("error", reports.append)
receipt = analytics.track(user_id="019mr8mf4r", event="Never Arrives")
analytics.flush(timeout=10)
analytics.shutdown(timeout=1)

print("receipt:", receipt.ok, receipt.error)
for report in reports:
    print("hook:", report.kind, report.count, report.reason, report.error)
told = receipt.error is not None and "connection_refused" in str(receipt.error) and reports
sys.exit(0 if told else 1)
