"""Dead-letter records: the original key, value and headers, plus Kafka Connect-style
context headers saying where the record came from and why it failed."""

from __future__ import annotations

import traceback

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

PREFIX = "__connect.errors."


def context_headers(
    record: ConsumerRecord[bytes, bytes], error: BaseException, *, group: str, service: str
) -> list[tuple[str, bytes]]:
    trace = "".join(traceback.format_exception(error))[-8000:]
    context = {
        "topic": record.topic,
        "partition": str(record.partition),
        "offset": str(record.offset),
        "exception.class.name": f"{type(error).__module__}.{type(error).__qualname__}",
        "exception.message": str(error)[:2000],
        "exception.stacktrace": trace,
        "consumer.group": group,
        "service": service,
    }
    return [(PREFIX + name, value.encode("utf-8")) for name, value in context.items()]


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str, *, group: str, service: str) -> None:
        self._producer = producer
        self.topic = topic
        self._group = group
        self._service = service

    async def send(self, record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
        headers = list(record.headers or ()) + context_headers(
            record, error, group=self._group, service=self._service
        )
        await self._producer.send_and_wait(
            self.topic, value=record.value, key=record.key, headers=headers
        )
