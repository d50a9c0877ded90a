"""What `make run` needs to show Baton working on a fresh machine: development secrets, a
demo roster for the shipped policy's pools, and a signed sample lead."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

SAMPLE_LEAD: dict[str, Any] = {
    "person": {
        "email": "ada@analytical-engines.example",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "title": "CTO",
        "country": "DE",
    },
    "company": {
        "name": "Analytical Engines",
        "domain": "analytical-engines.example",
        "employees": 1200,
        "industry": "software",
    },
    "attribution": {"campaign_id": "spring-webinar", "utm_source": "linkedin"},
    "activities": [{"type": "demo_request", "occurred_at": "2026-01-01T09:00:00Z"}],
}

DEMO_REPS = {
    "rep-greta": ("Greta", "Europe/Berlin", ["emea-enterprise"]),
    "rep-jonas": ("Jonas", "Europe/Berlin", ["emea-enterprise", "emea-inbound"]),
    "rep-amelie": ("Amélie", "Europe/Paris", ["emea-inbound"]),
    "rep-maya": ("Maya", "America/New_York", ["na-enterprise", "na-inbound"]),
    "rep-luis": ("Luis", "America/Chicago", ["na-inbound"]),
    "rep-kenji": ("Kenji", "Asia/Tokyo", ["apac"]),
}


@dataclass(frozen=True)
class DevSecrets:
    webhook_secret: str
    api_key: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DevSecrets:
        """Kept under .baton/ so they survive restarts; never used outside `make run`."""
        path = data_dir / "dev-secrets.json"
        if path.exists():
            stored = json.loads(path.read_text())
            return cls(stored["webhook_secret"], stored["api_key"])
        created = cls(
            webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            api_key=secrets.token_urlsafe(24),
        )
        path.write_text(json.dumps(created.__dict__))
        path.chmod(0o600)
        return created

    def env_for(self, service: str) -> dict[str, str]:
        """The development secrets a service reads: the API key for every service's own
        API, the webhook secret for the router."""
        prefix = service.upper().replace("-", "_")
        env = {f"{prefix}_API_KEYS": json.dumps({"dev": self.api_key})}
        if service == "router":
            env["ROUTER_WEBHOOK_SECRETS"] = json.dumps({"generic": [self.webhook_secret]})
        return env


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    message_id = f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(message_id, datetime.now(UTC), body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": signature,
    }


def sample_body() -> bytes:
    lead = json.loads(json.dumps(SAMPLE_LEAD))
    lead["activities"][0]["occurred_at"] = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    return json.dumps(lead).encode()


def curl_command(router_url: str, secret: str) -> str:
    body = sample_body()
    headers = signed_headers(secret, body)
    lines = [f"curl -i -X POST {router_url}/webhooks/generic"]
    lines += [f"  -H '{name}: {value}'" for name, value in headers.items()]
    lines.append(f"  -d '{body.decode()}'")
    return " \\\n".join(lines)


def seed_demo_roster(router_url: str, api_key: str) -> bool:
    """Reps and pools for the shipped policy, unless the roster already has reps."""
    admin = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=router_url, headers=admin, timeout=10) as client:
        if client.get("/roster/reps").json()["reps"]:
            return False
        pools: dict[str, list[dict[str, Any]]] = {}
        weekdays = [{"weekday": day, "start": "08:00", "end": "18:00"} for day in range(5)]
        for rep_id, (name, zone, memberships) in DEMO_REPS.items():
            rep = {"name": name, "time_zone": zone, "working_hours": weekdays, "daily_cap": 25}
            client.put(f"/roster/reps/{rep_id}", json=rep).raise_for_status()
            for pool in memberships:
                pools.setdefault(pool, []).append({"rep_id": rep_id, "weight": 1.0})
        for pool, members in pools.items():
            body = {"strategy": "weighted_round_robin", "members": members}
            client.put(f"/roster/pools/{pool}", json=body).raise_for_status()
    return True


def post_sample_lead(router_url: str, dev: DevSecrets) -> dict[str, Any]:
    """Post a freshly signed sample lead and return the router's decision for it."""
    body = sample_body()
    with httpx.Client(base_url=router_url, timeout=10) as client:
        answer = client.post(
            "/webhooks/generic", content=body, headers=signed_headers(dev.webhook_secret, body)
        )
        answer.raise_for_status()
        lead_key = answer.json()["lead_keys"][0]
        admin = {"authorization": f"Bearer {dev.api_key}"}
        for _ in range(50):
            found = client.get(f"/leads/{lead_key}", headers=admin)
            if found.status_code == 200:
                return found.json()["current"]  # type: ignore[no-any-return]
            time.sleep(0.1)
    raise TimeoutError(f"no decision for {lead_key} yet")


def main() -> None:
    """`make lead`: post a signed sample lead to the running Baton and show the decision."""
    dev = DevSecrets.load_or_create(Path(".baton"))
    decision = post_sample_lead("http://127.0.0.1:8001", dev)
    owner = decision["owner"]["name"] if decision["owner"] else f"queue {decision['queue']}"
    print(
        f"lead {decision['lead_key']} -> {owner} (tier {decision['tier']}, score {decision['score']['total']})"
    )
    print(f"why: {decision['reason']}")
    print(json.dumps(decision, indent=2))


if __name__ == "__main__":
    main()
