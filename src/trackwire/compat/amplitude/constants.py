"""The official ``amplitude.constants``: endpoints, operation names, limits, enums.

The values are Amplitude's (and the official SDK's defaults), so code that reads them keeps
working; ``SDK_LIBRARY``/``SDK_VERSION`` name trackwire, which is what sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final

from trackwire._version import __version__

SDK_LIBRARY: Final = "trackwire-amplitude-compat"
SDK_VERSION: Final = __version__

EU_ZONE: Final = "EU"
DEFAULT_ZONE: Final = "US"
BATCH: Final = "batch"
HTTP_V2: Final = "v2"
SERVER_URL: Final[Mapping[str, Mapping[str, str]]] = {
    EU_ZONE: {
        BATCH: "https://api.eu.amplitude.com/batch",
        HTTP_V2: "https://api.eu.amplitude.com/2/httpapi",
    },
    DEFAULT_ZONE: {
        BATCH: "https://api2.amplitude.com/batch",
        HTTP_V2: "https://api2.amplitude.com/2/httpapi",
    },
}

#: The logger the official SDK writes to; the compat layer writes its event messages here too.
LOGGER_NAME: Final = "amplitude"

IDENTIFY_EVENT: Final = "$identify"
GROUP_IDENTIFY_EVENT: Final = "$groupidentify"
IDENTITY_OP_ADD: Final = "$add"
IDENTITY_OP_APPEND: Final = "$append"
IDENTITY_OP_CLEAR_ALL: Final = "$clearAll"
IDENTITY_OP_PREPEND: Final = "$prepend"
IDENTITY_OP_SET: Final = "$set"
IDENTITY_OP_SET_ONCE: Final = "$setOnce"
IDENTITY_OP_UNSET: Final = "$unset"
IDENTITY_OP_PRE_INSERT: Final = "$preInsert"
IDENTITY_OP_POST_INSERT: Final = "$postInsert"
IDENTITY_OP_REMOVE: Final = "$remove"
UNSET_VALUE: Final = "-"

REVENUE_PRODUCT_ID: Final = "$productId"
REVENUE_QUANTITY: Final = "$quantity"
REVENUE_PRICE: Final = "$price"
REVENUE_TYPE: Final = "$revenueType"
REVENUE_RECEIPT: Final = "$receipt"
REVENUE_RECEIPT_SIG: Final = "$receiptSig"
REVENUE: Final = "$revenue"
REVENUE_CURRENCY: Final = "$currency"
AMP_REVENUE_EVENT: Final = "revenue_amount"

MAX_PROPERTY_KEYS: Final = 1024
MAX_STRING_LENGTH: Final = 1024
FLUSH_QUEUE_SIZE: Final = 200
FLUSH_INTERVAL_MILLIS: Final = 10_000
FLUSH_MAX_RETRIES: Final = 12
CONNECTION_TIMEOUT: Final = 10.0  # seconds
MAX_BUFFER_CAPACITY: Final = 20_000


class PluginType(Enum):
    """Where a plugin runs: before, enrichment, destination (each gets a copy), observe."""

    BEFORE = 0
    ENRICHMENT = 1
    DESTINATION = 2
    OBSERVE = 3


class EventLogLevel(Enum):
    """How much the client logs about events (kept on the Config, as the official)."""

    NONE = 0
    DEBUG = 1
    INFO = 2
