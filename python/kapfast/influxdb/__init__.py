"""InfluxDB 1.x: an async HTTP client and the subscription manager that keeps kapfastd subscribed."""

from kapfast.influxdb.client import Epoch, InfluxDBClient, RetentionPolicy, Subscription, make_ssl_context
from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError
from kapfast.influxdb.influxql import quote_ident, quote_string
from kapfast.influxdb.subscriptions import DEFAULT_EXCLUDED, DbRp, SubscriptionManager, SyncResult, Watched

__all__ = [
    "DEFAULT_EXCLUDED",
    "DbRp",
    "Epoch",
    "InfluxDBClient",
    "InfluxDBConnectionError",
    "InfluxDBError",
    "RetentionPolicy",
    "Subscription",
    "SubscriptionManager",
    "SyncResult",
    "Watched",
    "make_ssl_context",
    "quote_ident",
    "quote_string",
]
