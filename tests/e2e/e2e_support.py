"""What the end-to-end tests share: a router with a policy and a two-rep round robin."""

from __future__ import annotations

from typing import Any

ADMIN = {"authorization": "Bearer k-ops"}
ADMIN_KEYS = {"ops": "k-ops"}
REPS = ("rep-ada", "rep-bo")


async def set_up_routing(router_client: Any, policy: str) -> None:
    """Activate `policy` and put both reps in the `inbound` pool (round robin)."""
    answer = await router_client.put(
        "/policy", content=policy, headers={**ADMIN, "content-type": "application/yaml"}
    )
    assert answer.status_code == 200, answer.text
    for rep in REPS:
        answer = await router_client.put(
            f"/roster/reps/{rep}", json={"name": rep, "time_zone": "UTC"}, headers=ADMIN
        )
        assert answer.status_code in (200, 201), answer.text
    pool = {"strategy": "round_robin", "members": [{"rep_id": rep} for rep in REPS]}
    answer = await router_client.put("/roster/pools/inbound", json=pool, headers=ADMIN)
    assert answer.status_code in (200, 201), answer.text
