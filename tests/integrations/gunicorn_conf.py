"""gunicorn's config for test_gunicorn: the documented recipe, one line."""

from trackwire.integrations.gunicorn import post_fork, post_worker_init, worker_exit  # noqa: F401

workers = 2
graceful_timeout = 20
loglevel = "warning"
