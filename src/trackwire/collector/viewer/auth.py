"""Who a request may read as, and the page's sign-in sessions.

In development mode (no keys file; loopback only) everyone reads everything. In keyed mode a
request reads with a credential in ``Authorization`` (an admin token or a source's read
credentials, see :meth:`~trackwire.collector.keys.Keys.reader`) or with the page's session
cookie, given by ``POST /_viewer/session`` for an admin token or a source's read token.

The cookie is ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other site's page
sends it). A state-changing request made with it must also carry the session's CSRF token in
``X-CSRF-Token``; and every state-changing request of the collector's own endpoints with an
``Origin`` header must come from the collector's own origin, which keeps a web page elsewhere
from resetting or reconfiguring a development collector on this machine.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request

from trackwire.collector import _http
from trackwire.collector.keys import Keys, Reader

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "PAGE_HEADER",
    "Access",
    "Session",
    "Sessions",
    "csrf_ok",
    "reader_for",
    "same_origin",
]

#: The session cookie's name.
COOKIE: Final = "trackwire_session"
#: The header the web page sends with each request (its 401s carry no Basic challenge).
PAGE_HEADER: Final = "x-trackwire-page"
#: The header a cookie-authenticated state-changing request carries its CSRF token in.
CSRF_HEADER: Final = "x-csrf-token"
#: Seconds a session lasts.
SESSION_SECONDS: Final = 12 * 3600
#: Sessions kept at once; the oldest go first.
MAX_SESSIONS: Final = 1000


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser.

    Attributes:
        id: the cookie's value.
        csrf: the token state-changing requests must echo in ``X-CSRF-Token``.
        reader: what it may read.
        expires: ``time.monotonic()`` after which it is gone.
    """

    id: str
    csrf: str
    reader: Reader
    expires: float


class Sessions:
    """The page's sessions, in memory (a restart signs everyone out)."""

    def __init__(self, seconds: float = SESSION_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self.seconds = seconds
        self.limit = limit
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, reader: Reader) -> Session:
        """A new session reading as ``reader``."""
        session = Session(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(24),
            reader,
            time.monotonic() + self.seconds,
        )
        with self._lock:
            if len(self._sessions) >= self.limit:
                oldest = min(self._sessions.values(), key=lambda s: s.expires)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires < time.monotonic():
                del self._sessions[session_id]
                session = None
        return session

    def drop(self, session_id: str | None) -> None:
        """End a session (sign out)."""
        with self._lock:
            self._sessions.pop(session_id or "", None)


@dataclass(frozen=True, slots=True)
class Access:
    """What deciding who may read needs of the collector: its keys and the page's sessions.

    Attributes:
        keys: the accepted sources; None is development mode (everyone reads everything).
        sessions: the page's sign-in sessions.
    """

    keys: Keys | None
    sessions: Sessions

    @property
    def development(self) -> bool:
        """True without a keys file."""
        return self.keys is None


def session_of(access: Access, request: Request) -> Session | None:
    """The request's live session, if its cookie names one."""
    return access.sessions.get(request.cookies.get(COOKIE))


def reader_for(access: Access, request: Request) -> Reader | None:
    """Who the request may read as: everyone in development mode, else by credential or cookie."""
    keys = access.keys
    if keys is None:
        return Reader()
    header = request.headers.get("authorization", "")
    if not header:
        session = session_of(access, request)
        return None if session is None else session.reader
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return keys.reader(value.strip(), "")
    try:
        credentials = _http.basic_credentials(header)
    except ValueError:
        return None
    return None if credentials is None else keys.reader(*credentials)


def same_origin(request: Request) -> bool:
    """False for a browser request sent by a page of another origin (its ``Origin`` header)."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") not in ("cross-site", "same-site")
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def csrf_ok(access: Access, request: Request) -> bool:
    """Whether a state-changing request may go ahead.

    Always from the collector's own origin; when it is authenticated by the session cookie
    alone, also with the session's CSRF token in ``X-CSRF-Token``.
    """
    if not same_origin(request):
        return False
    if access.keys is None or request.headers.get("authorization"):
        return True
    session = session_of(access, request)
    given = request.headers.get(CSRF_HEADER, "")
    return session is not None and hmac.compare_digest(session.csrf.encode(), given.encode())
