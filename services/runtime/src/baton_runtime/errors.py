"""Which failures are the infrastructure's (retry forever) and which are the record's."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class NotYet(Exception):
    """The record needs something that has not arrived yet (on another topic, say) and
    will: it is retried like an outage, never dead-lettered."""


def is_transient(exc: BaseException) -> bool:
    """True when retrying later can succeed without changing the record: a database or
    broker that is down, restarting or slow. Such failures never dead-letter a record."""
    if isinstance(exc, NotYet | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        name = type(exc.orig).__name__
        if name in {
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
            "AdminShutdownError",
            "ConnectionFailureError",
            "InterfaceError",
            "TooManyConnectionsError",
        }:
            return True
    transient = (
        OSError,  # ConnectionError and TimeoutError (asyncio's too) are OSErrors
        KafkaConnectionError,
        KafkaTimeoutError,
    )
    if isinstance(exc, transient):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)
