"""FanOut, the integrations and the metrics stay optional: importing them loads no framework,
no exporter library and nothing of the collector or the CLI."""

from __future__ import annotations

import subprocess
import sys


def test_importing_them_loads_nothing_heavy() -> None:
    code = (
        "import sys, trackwire, trackwire.fanout, trackwire.metrics, trackwire.integrations, "
        "trackwire.integrations.context, trackwire.integrations.aws_lambda, "
        "trackwire.integrations.gunicorn\n"
        "trackwire.FanOut\n"
        "heavy = {'django', 'flask', 'celery', 'starlette', 'fastapi', 'uvicorn', "
        "'prometheus_client', 'opentelemetry', 'trackwire.collector', 'trackwire.cli'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
