"""Short-lived processes: a Lambda-style handler that tracks and returns, and a script that
tracks and ends; everything arrives."""

from __future__ import annotations

from tests.reliability.conftest import Collected, run_child

LAMBDA = r"""
import os, sys
import trackwire

client = trackwire.Segment(sys.argv[2], host=sys.argv[1], flush_interval=30)

def handler(event, context):
    for n in event["numbers"]:
        client.track("user-1", "Invoked", {"n": n})
    client.flush(timeout=10)  # the platform freezes the process once the handler returns
    return {"statusCode": 200}

for call in range(20):
    handler({"numbers": range(call * 10, call * 10 + 10)}, None)
os._exit(0)  # the platform ends the environment without running exit hooks
"""

SCRIPT = r"""
import sys
import trackwire

client = trackwire.Segment(sys.argv[2], host=sys.argv[1], flush_interval=30)
for n in range(200):
    client.track("user-1", "Invoked", {"n": n})
"""


def test_lambda_style_handler(collected: Collected) -> None:
    result = run_child(LAMBDA, collected.url, "lambda-key")
    assert result.returncode == 0, result.stderr
    numbers = collected.numbers("segment")
    assert sorted(numbers) == list(range(200))
    assert set(numbers.values()) == {1}


def test_a_script_that_tracks_and_ends(collected: Collected) -> None:
    result = run_child(SCRIPT, collected.url, "script-key")
    assert result.returncode == 0, result.stderr
    assert sorted(collected.numbers("segment")) == list(range(200))
