"""``trackwire.compat.segment`` against segment-analytics-python, example by example.

Each example is written exactly as segment-analytics-python's documentation shows it
(``import segment.analytics as analytics``), with the collector's URL as ``analytics.host``.
It runs twice in its own interpreter: once as written, with the official library, and once
with only the import changed to ``trackwire.compat.segment``, each against its own real
collector. What the two collectors stored must be the same, message for message (ids and the
library's own name and send times aside).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire.collector.server import start_collector
from trackwire.collector.store import StoredEvent

OFFICIAL_IMPORT = "segment.analytics"
COMPAT_IMPORT = "trackwire.compat.segment"
ROOT = Path(__file__).resolve().parents[2]
SORTED = orjson.OPT_SORT_KEYS
GENERATED_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# The documentation's examples. HOST is replaced by the collector's URL.
GETTING_STARTED = """
import segment.analytics as analytics
from datetime import datetime

analytics.write_key = 'YOUR_WRITE_KEY'
analytics.host = HOST

def on_error(error, items):
    print("An error occurred:", error)

analytics.debug = True
analytics.on_error = on_error

analytics.identify('019mr8mf4r', {
    'email': 'john@example.com',
    'name': 'John Smith',
    'friends': 30
})
analytics.track('f4ca124298', 'Signed Up', {
    'plan': 'Enterprise'
})
analytics.track('f4ca124298', 'Article Bookmarked', {
    'title': 'Snow Fall',
    'subtitle': 'The Avalanche at Tunnel Creek',
    'author': 'John Branch'
})
analytics.page('019mr8mf4r', 'Docs', 'Python', {
    'url': 'http://segment.com'
})
analytics.screen('019mr8mf4r', 'Account', 'Settings', {
    'tab': 'billing'
})
analytics.group('019mr8mf4r', '8e9df332ac', {
    'name': 'Initech',
    'domain': 'Accounting Software'
})
analytics.alias('anonymous-4f2a', '019mr8mf4r')
analytics.flush()
"""

OPTIONS_AND_KEYWORDS = """
import segment.analytics as analytics
from datetime import datetime, timezone

analytics.write_key = 'YOUR_WRITE_KEY'
analytics.host = HOST
analytics.gzip = True
analytics.upload_size = 2
analytics.max_retries = 1

# Historical import: pass the event's own time.
analytics.track('019mr8mf4r', 'Item Purchased', {'revenue': 39.95},
                timestamp=datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc))
# Anonymous users, context and integrations.
analytics.track(anonymous_id='48d213bb-95c3', event='Viewed Pricing',
                properties={'plan': 'pro'})
analytics.identify('019mr8mf4r', {'plan': 'Pro'},
                   context={'ip': '203.0.113.9', 'locale': 'en-US'},
                   integrations={'All': False, 'Mixpanel': True})
analytics.track('019mr8mf4r', 'Numeric', {'n': 1}, None, None, None, None, 'my-message-id')
analytics.group(user_id='019mr8mf4r', group_id='56', traits={'plan': 'enterprise'})
analytics.shutdown()
"""

MULTIPLE_CLIENTS = """
from segment.analytics import Client

def on_error(error, items):
    print("An error occurred:", error)

first = Client('WRITE_KEY_ONE', host=HOST, on_error=on_error, upload_interval=0.05)
second = Client('WRITE_KEY_TWO', HOST, False, 100)
first.track('user-1', 'From First', {'n': 1})
second.identify('user-2', {'name': 'Second'})
first.flush()
second.flush()
first.shutdown()
second.shutdown()
"""

SYNC_MODE = """
import segment.analytics as analytics

analytics.write_key = 'YOUR_WRITE_KEY'
analytics.host = HOST
analytics.sync_mode = True

success, message = analytics.track('user-sync', 'Synced', {'ok': True})
print('result', success, message['event'], message['userId'])
"""

SEND_FALSE = """
import segment.analytics as analytics

analytics.write_key = 'YOUR_WRITE_KEY'
analytics.host = HOST
analytics.send = False

success, message = analytics.track('user-test', 'Not Sent')
analytics.flush()
print('result', success, message['event'])
"""


def run_example(source: str, module: str, url: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(source).replace(OFFICIAL_IMPORT, module).replace("HOST", repr(url))
    assert (module == OFFICIAL_IMPORT) == (COMPAT_IMPORT not in code)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "An error occurred" not in result.stdout, result.stdout
    return result


def comparable(event: StoredEvent) -> dict[str, Any]:
    """What an application sent: the payload without ids, send times and library names."""
    payload = {
        key: value
        for key, value in event.payload.items()
        if key not in ("sentAt", "writeKey", "_metadata", "receivedAt") and value not in ({}, None)
    }
    if GENERATED_ID.fullmatch(payload.get("messageId", "")):
        del payload["messageId"]  # made by the library: differs between any two runs
    context = {k: v for k, v in payload.pop("context", {}).items() if k != "library"}
    if context:
        payload["context"] = context
    # The collector corrects `timestamp` for clock skew (as Segment does); what the application
    # sent is kept as `originalTimestamp`.
    payload.pop("timestamp", None)
    timestamp = payload.pop("originalTimestamp", None)
    if timestamp is not None:  # an explicit time must arrive as that instant
        instant = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        if instant.year < 2025:
            payload["timestamp"] = instant.isoformat()
    return {"source": event.source, "type": event.type, **payload}


def stored(source: str, module: str, tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    db = tmp_path / f"{module}.db"
    with start_collector(db=db, port=0) as collector:
        output = run_example(source, module, collector.url).stdout
        events = collector.store.events()
    rows = sorted((comparable(e) for e in events), key=lambda row: orjson.dumps(row, option=SORTED))
    return rows, output


@pytest.mark.parametrize(
    "example",
    [GETTING_STARTED, OPTIONS_AND_KEYWORDS, MULTIPLE_CLIENTS, SYNC_MODE, SEND_FALSE],
    ids=["getting-started", "options-and-keywords", "multiple-clients", "sync-mode", "send-false"],
)
def test_the_documented_example_stores_what_the_official_library_stores(
    example: str, tmp_path: Path
) -> None:
    official, official_out = stored(example, OFFICIAL_IMPORT, tmp_path)
    compat, compat_out = stored(example, COMPAT_IMPORT, tmp_path)

    assert compat == official
    results = [line for line in official_out.splitlines() if line.startswith("result")]
    assert [line for line in compat_out.splitlines() if line.startswith("result")] == results
    if example is SEND_FALSE:
        assert official == [] and results == ["result True Not Sent"]
    else:
        assert official, "the example stored nothing"
