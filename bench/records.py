"""Realistic leads: the generic webhook body a marketing platform would send, and the
`baton.lead.captured.v1` record intake makes of it."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook

from baton_runtime.kafka import publish
from baton_schemas import LeadCaptured, OutgoingRecord, encode_event

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
TITLES = ["CTO", "VP Sales", "Head of Marketing", "Software Engineer", "CEO", "Data Analyst"]
COUNTRIES = [("DE", "Berlin"), ("FR", "Paris"), ("US", "Austin"), ("GB", "Leeds"), ("ES", "Bilbao")]
INDUSTRIES = ["software", "manufacturing", "retail", "finance", "healthcare"]
CAMPAIGNS = [
    ("spring-webinar", "Spring webinar", "paid_social", "linkedin", "cpc"),
    ("q3-ebook", "Q3 e-book", "paid_search", "google", "cpc"),
    ("newsletter-42", "Newsletter 42", "email", "newsletter", "email"),
    ("expo-2025", "Expo 2025", "events", "expo", "offline"),
]
ACTIVITIES = ["form_submit", "page_view", "email_click", "demo_request", "webinar_attended"]
PRODUCTS = ["routing", "sla", "analytics", "integrations"]
COMPANIES = 500  # distinct company domains; several leads share an account


def lead_payload(index: int, run: str, now: datetime | None = None) -> dict[str, Any]:
    """Baton's canonical lead JSON (the generic webhook body) for lead `index` of `run`;
    e-mails, hence lead keys, are distinct across indices and runs."""
    rng = random.Random(f"{run}:{index}")
    now = now or datetime.now(UTC)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = rng.randrange(COMPANIES)
    domain = f"company{company:04d}.example"
    country, city = rng.choice(COUNTRIES)
    campaign_id, campaign_name, channel, utm_source, utm_medium = rng.choice(CAMPAIGNS)
    activities = [
        {
            "type": rng.choice(ACTIVITIES),
            "occurred_at": (now - timedelta(minutes=rng.randrange(1, 20_000))).isoformat(),
            "detail": f"/pages/{rng.randrange(100)}",
        }
        for _ in range(rng.randint(1, 4))
    ]
    return {
        "source_record_id": f"{run}-{index}",
        "person": {
            "email": f"{first}.{last}.{run}.{index}@{domain}".lower(),
            "first_name": first,
            "last_name": last,
            "phone": f"+49 30 {rng.randrange(10**7):07d}",
            "title": rng.choice(TITLES),
            "language": "en",
            "country": country,
            "city": city,
        },
        "company": {
            "name": f"Company {company}",
            "domain": domain,
            "employees": rng.choice([8, 45, 250, 1200, 9000]),
            "annual_revenue": float(rng.randrange(1, 500)) * 1e6,
            "industry": rng.choice(INDUSTRIES),
            "country": country,
        },
        "consent": {"email_opt_in": rng.random() < 0.7, "legal_basis": "consent"},
        "attribution": {
            "campaign_id": campaign_id,
            "campaign_name": campaign_name,
            "channel": channel,
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": campaign_id,
            "landing_page": f"https://baton.example/lp/{campaign_id}",
        },
        "product_interest": rng.sample(PRODUCTS, rng.randint(1, 2)),
        "activities": activities,
        "custom": {"lead_score_external": rng.randrange(100), "newsletter": rng.random() < 0.5},
    }


def signed_lead(
    webhook: Webhook, run: str, index: int, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """Lead `index` of `run` as a generic webhook: its body and its Standard Webhooks
    headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`), signed by the
    `standardwebhooks` package at `now`."""
    body = json.dumps(lead_payload(index, run, now), separators=(",", ":")).encode()
    message_id = f"msg_{run}_{index}"
    return body, {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(message_id, now, body.decode()),
    }


def captured_event(payload: dict[str, Any], received_at: datetime) -> LeadCaptured:
    """The captured event intake builds from a generic body (lead key from the e-mail)."""
    from baton_router.domain.sources.generic import normalise_generic

    return normalise_generic(payload, source="generic", received_at=received_at)


def captured_records(count: int, topic: str, run: str) -> list[OutgoingRecord]:
    """`count` captured leads with distinct keys, encoded for `topic`."""
    now = datetime.now(UTC)
    return [
        encode_event(
            captured_event(lead_payload(index, run, now), now),
            topic=topic,
            source="/baton/router",
        )
        for index in range(count)
    ]


async def produce_records(bootstrap: str, topic: str, records: list[OutgoingRecord]) -> None:
    """Send every record to `topic` (pipelined, 2,000 in flight at most, all acknowledged)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        for start in range(0, len(records), 2000):
            chunk = [replace(record, topic=topic) for record in records[start : start + 2000]]
            await publish(producer, chunk)
    finally:
        await producer.stop()
