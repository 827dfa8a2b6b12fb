"""InfluxDB: an async 1.x HTTP client, the subscription manager that keeps kapfastd subscribed,
and the InfluxDB 2.x writer of influxDBOut."""

from kapfast.influxdb.client import Epoch, InfluxDBClient, RetentionPolicy, Subscription, make_ssl_context
from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError
from kapfast.influxdb.influxql import quote_ident, quote_string
from kapfast.influxdb.subscriptions import DEFAULT_EXCLUDED, DbRp, SubscriptionManager, SyncResult, Watched
from kapfast.influxdb.v2 import InfluxDB2Writer, bucket_name

__all__ = [
    "DEFAULT_EXCLUDED",
    "DbRp",
    "Epoch",
    "InfluxDB2Writer",
    "InfluxDBClient",
    "InfluxDBConnectionError",
    "InfluxDBError",
    "RetentionPolicy",
    "Subscription",
    "SubscriptionManager",
    "SyncResult",
    "Watched",
    "bucket_name",
    "make_ssl_context",
    "quote_ident",
    "quote_string",
]
