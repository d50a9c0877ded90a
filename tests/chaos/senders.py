"""The traffic of the chaos run, sent the way real senders send it.

A marketing platform posts each lead as a signed webhook (Standard Webhooks) and, until it
gets a 2xx, redelivers it under the same delivery id, signed anew. A CRM reports a call on
each accepted lead and retries the same way under the same CRM event id. Every attempt's
answer is kept, so the audit can account for every 2xx and every refusal.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from signing import standard_webhook_headers

RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
ATTEMPT_TIMEOUT_S = 15.0


@dataclass
class Delivery:
    """One message and every attempt to deliver it."""

    message_id: str
    body: bytes
    answers: list[str] = field(default_factory=list)  # "202", "503", "connect-error", ...
    refusal_seconds: list[float] = field(default_factory=list)  # how long each 503 took
    accepted: dict[str, Any] | None = None  # the 2xx answer's body

    @property
    def delivered(self) -> bool:
        return self.accepted is not None


@dataclass
class Ledger:
    """Everything one sender sent."""

    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.delivered]

    @property
    def undelivered(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.delivered]

    def answers(self) -> Counter[str]:
        return Counter(answer for d in self.deliveries for answer in d.answers)


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    delivery: Delivery,
    headers_for: Any,
    give_up: asyncio.Event,
) -> None:
    """Post until a 2xx, or until told to give up. A 4xx other than 408/429 is final: the
    sender would not retry a request the receiver called wrong."""
    for attempt in range(10_000):
        started = time.monotonic()
        try:
            answer = await client.post(
                url, content=delivery.body, headers=headers_for(delivery), timeout=ATTEMPT_TIMEOUT_S
            )
        except httpx.TimeoutException:
            delivery.answers.append("timeout")
        except httpx.TransportError:
            delivery.answers.append("connect-error")
        else:
            delivery.answers.append(str(answer.status_code))
            if answer.is_success:
                delivery.accepted = answer.json()
                return
            if answer.status_code == 503:
                delivery.refusal_seconds.append(time.monotonic() - started)
            elif answer.status_code not in (408, 429):
                return
        if give_up.is_set():
            return
        await asyncio.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)])


def lead_body(number: int, run: str) -> bytes:
    """A warm lead (no decision-maker title: an 8-hour business-hours SLA, so nothing
    breaches during the run) from a company of its own."""
    lead = {
        "person": {
            "email": f"lead{number}@{run}.example",
            "first_name": f"Lead{number}",
            "title": "Engineer",
            "country": "DE",
        },
        "company": {"name": f"Company {number}", "domain": f"c{number}.{run}.example"},
        "attribution": {"campaign_id": f"chaos-{number % 5}", "utm_source": "chaos"},
    }
    return json.dumps(lead).encode()


def touch_body(number: int, lead_key: str, run: str) -> bytes:
    report = {
        "crm_event_id": f"{run}-call-{number}",
        "lead_key": lead_key,
        "kind": "activity",
        "occurred_at": datetime.now(UTC).isoformat(),
        "activity": {"type": "call", "direction": "outbound", "outcome": "connected"},
    }
    return json.dumps(report).encode()


@dataclass
class Traffic:
    """Leads at a steady rate to the router; a call reported to feedback for every lead the
    router accepted."""

    router_url: str
    feedback_url: str
    crm_key: str
    run: str
    leads: Ledger = field(default_factory=Ledger)
    touches: Ledger = field(default_factory=Ledger)
    give_up: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def send(self, rate: float, seconds: float) -> None:
        """Start one lead every 1/rate seconds for `seconds`; returns when the last one
        started (its delivery, and its touch, go on)."""
        # Enough connections that no request waits for one: a 503's time is the server's.
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
        self._client = httpx.AsyncClient(limits=limits)
        started = time.monotonic()
        number = 0
        while time.monotonic() - started < seconds:
            self._spawn(self._lead(number))
            number += 1
            await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))

    async def settle(self, timeout: float) -> None:
        """Let every delivery go on until it is accepted, or give up after `timeout`."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        self.give_up.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=ATTEMPT_TIMEOUT_S + 5)
        await self._client.aclose()

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _lead(self, number: int) -> None:
        delivery = Delivery(f"msg_{self.run}_{number}", lead_body(number, self.run))
        self.leads.deliveries.append(delivery)
        await deliver(
            self._client,
            f"{self.router_url}/webhooks/generic",
            delivery,
            lambda d: {
                "content-type": "application/json",
                **standard_webhook_headers(d.body, msg_id=d.message_id),
            },
            self.give_up,
        )
        if delivery.accepted is not None:
            (lead_key,) = delivery.accepted["lead_keys"]
            await self._touch(number, lead_key)

    async def _touch(self, number: int, lead_key: str) -> None:
        delivery = Delivery(f"{self.run}-call-{number}", touch_body(number, lead_key, self.run))
        self.touches.deliveries.append(delivery)
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.crm_key}"}
        await deliver(
            self._client, f"{self.feedback_url}/feedback", delivery, lambda _: headers, self.give_up
        )
