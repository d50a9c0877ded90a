"""The policy API: read, load a new version (checked, line-numbered problems), reload the
policy file, and the next routed lead carries the new version, without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from router_support import LEAD
from signing import router  # router_support.router, signing generic webhooks

from baton_router.config import RouterSettings
from baton_router.db.policies import activate
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.db import create_engine
from baton_runtime.testing import (
    eventually,
    prepare_service,
    query,
    read_topic,
    running,
    serving,
)

KEYS = {"ops": "k-ops"}
OPS = {"Authorization": "Bearer k-ops"}
YAML = {**OPS, "content-type": "application/yaml"}
DEFAULT_VERSION = "2025-06-01.3"


def policy(version: str, queue: str = "trial-queue") -> str:
    return f"""\
version: "{version}"
scoring:
  grades:
    - {{grade: A, min_fit: -1000}}
  mql: {{grades: [A], min_engagement: 1000}}
tiers:
  - name: everyone
routing:
  rules:
    - name: everything
      when: {{field: person.email_domain, exists: true}}
      queue: {queue}
"""


BROKEN = """\
version: "broken-1"
scoring:
  grades:
    - {grade: A, min_fit: lots}
  mql: {grades: [A], min_engagement: 10}
tiers:
  - name: everyone
routing:
  rules:
    - name: nowhere
      when: {field: person.country, eq: DE}
"""


async def activations(settings: Any) -> list[tuple[Any, ...]]:
    return await query(
        settings,
        "SELECT actor, action, subject, detail FROM audit_log"
        " WHERE actor <> 'router startup' ORDER BY id",
    )


async def test_a_new_version_is_stamped_on_the_next_routed_lead(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        current = await client.get("/policy", headers=OPS)
        first = await client.post("/webhooks/generic", json=LEAD)
        assert first.status_code == 202, first.text
        await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 1)

        loaded = await client.put("/policy", content=policy("trial-1"), headers=YAML)
        active = await client.get("/policy", headers=OPS)
        other = {**LEAD, "person": {**LEAD["person"], "email": "grace@example.com"}}
        second = await client.post("/webhooks/generic", json=other)
        assert second.status_code == 202, second.text
        records = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 2)

        same_again = await client.put(
            "/policy", content=policy("trial-1"), headers={**OPS, "content-type": "text/plain"}
        )
        changed_same_version = await client.put(
            "/policy", content=policy("trial-1", queue="elsewhere"), headers=YAML
        )
        rollback = await client.put(
            "/policy", content=current.json()["document"].encode(), headers=YAML
        )
        versions = await client.get("/policy/versions", headers=OPS)
        trail = await activations(settings)
        stored = await query(
            settings, "SELECT version, active FROM policy_versions ORDER BY version"
        )
        announced = await read_topic(settings.kafka_bootstrap, settings.topics.policy_events, 3)

    assert current.status_code == 200, current.text
    assert current.json()["version"] == DEFAULT_VERSION
    assert f'version: "{DEFAULT_VERSION}"' in current.json()["document"]

    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["version"] == "trial-1"
    assert loaded.json()["activated"] is True
    assert loaded.json()["previous_version"] == DEFAULT_VERSION
    assert active.json()["version"] == "trial-1"
    assert active.json()["document"] == policy("trial-1")
    assert active.json()["source"] == "api"

    decisions = {json.loads(r.value)["captured_event_id"]: json.loads(r.value) for r in records}
    before = decisions[first.json()["event_ids"][0]]
    after = decisions[second.json()["event_ids"][0]]
    assert before["policy_version"] == DEFAULT_VERSION
    assert after["policy_version"] == "trial-1"
    assert after["queue"] == "trial-queue" and after["matched_rule"] == "everything"
    assert after["tier"] == "everyone"

    assert same_again.status_code == 200, same_again.text
    assert same_again.json()["activated"] is False
    assert changed_same_version.status_code == 409, changed_same_version.text
    assert "trial-1" in changed_same_version.json()["detail"]
    assert rollback.status_code == 200 and rollback.json()["activated"] is True
    assert rollback.json()["version"] == DEFAULT_VERSION

    listed = {v["version"]: v["active"] for v in versions.json()["versions"]}
    assert listed == {DEFAULT_VERSION: True, "trial-1": False}
    assert stored == [(DEFAULT_VERSION, True), ("trial-1", False)]
    assert [(a, act, s) for a, act, s, _ in trail] == [
        ("ops", "policy.activate", "trial-1"),
        ("ops", "policy.activate", DEFAULT_VERSION),
    ]
    # Every activation is announced for the services that run by the document (startup,
    # the new version, the rollback), keyed so they stay in order; no-ops announce nothing.
    assert {record.key for record in announced} == {b"routing-policy"}
    payloads = [json.loads(record.value) for record in announced]
    assert [(p["version"], p["source"]) for p in payloads] == [
        (DEFAULT_VERSION, "shipped default"),
        ("trial-1", "api"),
        (DEFAULT_VERSION, "api"),
    ]
    assert payloads[0]["sla"]["tiers"]["hot"]["target"] == "5m"
    assert payloads[1]["sla"] is None


async def test_an_invalid_policy_is_422_with_line_numbers_and_changes_nothing(
    make_settings,
) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        broken = await client.put("/policy", content=BROKEN, headers=YAML)
        not_yaml = await client.put("/policy", content="version: [unclosed\n", headers=YAML)
        empty = await client.put("/policy", content="", headers=YAML)
        json_type = await client.put(
            "/policy", content=policy("t-2"), headers={**OPS, "content-type": "application/json"}
        )
        no_type = await client.put("/policy", content=policy("t-3"), headers=OPS)
        latin1 = await client.put(
            "/policy",
            content=policy("t-4").encode(),
            headers={**OPS, "content-type": "text/plain; charset=latin-1"},
        )
        not_utf8 = await client.put("/policy", content=b"version: \xff\xfe\n", headers=YAML)
        nul = await client.put("/policy", content=b'version: "a\x00"\n', headers=YAML)
        too_big = await client.put(
            "/policy", content=b"# " + b"x" * (3 * 1024 * 1024), headers=YAML
        )
        no_file = await client.post("/policy/reload", headers=OPS)
        active = await client.get("/policy", headers=OPS)
        trail = await activations(settings)
        stored = await query(settings, "SELECT version FROM policy_versions")

    assert broken.status_code == 422, broken.text
    problems = broken.json()["problems"]
    by_path = {p["path"]: p for p in problems}
    assert by_path["scoring.grades[0].min_fit"]["line"] == 4
    assert "valid number" in by_path["scoring.grades[0].min_fit"]["message"]
    assert any(p["line"] == 10 and "exactly one of" in p["message"] for p in problems), problems
    assert all(p["text"].startswith("policy:") for p in problems)

    assert not_yaml.status_code == 422, not_yaml.text
    assert not_yaml.json()["problems"][0]["line"] is not None
    assert empty.status_code == 422, empty.text
    assert json_type.status_code == 415 and no_type.status_code == 415
    assert latin1.status_code == 415
    assert not_utf8.status_code == 400 and nul.status_code == 400
    assert too_big.status_code == 413
    assert no_file.status_code == 409, no_file.text
    assert "ROUTER_POLICY_FILE" in no_file.json()["detail"]

    assert active.json()["version"] == DEFAULT_VERSION
    assert trail == []
    assert stored == [(DEFAULT_VERSION,)]


async def test_reload_activates_the_policy_file_when_its_version_is_new(
    make_settings, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy("file-1"), encoding="utf-8")
    async with router(make_settings, api_keys=KEYS, policy_file=str(path)) as (settings, client):
        started = await client.get("/policy", headers=OPS)
        unchanged = await client.post("/policy/reload", headers=OPS)

        path.write_text(policy("file-2", queue="from-file"), encoding="utf-8")
        reloaded = await client.post("/policy/reload", headers=OPS)
        lead = await client.post("/webhooks/generic", json=LEAD)
        assert lead.status_code == 202, lead.text
        rows = await eventually(
            lambda: query(settings, "SELECT decision FROM assignments"), lambda r: len(r) >= 1
        )

        path.write_text(BROKEN, encoding="utf-8")
        invalid = await client.post("/policy/reload", headers=OPS)
        path.write_text(policy("file-2", queue="changed-silently"), encoding="utf-8")
        conflict = await client.post("/policy/reload", headers=OPS)
        path.unlink()
        missing = await client.post("/policy/reload", headers=OPS)
        active = await client.get("/policy", headers=OPS)
        trail = await activations(settings)

    assert started.json()["version"] == "file-1"
    assert unchanged.status_code == 200 and unchanged.json()["activated"] is False
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json() == {
        "version": "file-2",
        "activated": True,
        "previous_version": "file-1",
        "warnings": [],
    }
    assert rows[0][0]["policy_version"] == "file-2"
    assert rows[0][0]["queue"] == "from-file"
    assert invalid.status_code == 422
    assert {p["line"] for p in invalid.json()["problems"]} == {4, 10}
    assert invalid.json()["problems"][0]["text"].startswith(str(path))
    assert conflict.status_code == 409, conflict.text
    assert missing.status_code == 422 and "cannot read" in missing.text
    assert active.json()["version"] == "file-2"
    assert [(a, act, s) for a, act, s, _ in trail] == [("ops", "policy.activate", "file-2")]


async def test_a_rule_to_an_undefined_pool_is_accepted_with_a_warning(make_settings) -> None:
    document = policy("warn-1").replace("queue: trial-queue", "pool: nobody-home")
    async with router(make_settings, api_keys=KEYS) as (_settings, client):
        answer = await client.put("/policy", content=document, headers=YAML)
    assert answer.status_code == 200, answer.text
    assert answer.json()["activated"] is True
    assert "nobody-home" in answer.json()["warnings"][0]


async def test_an_older_shipped_default_is_upgraded_at_startup_an_operators_policy_is_not(
    make_settings,
) -> None:
    answers = {}
    for source, version in (("shipped default", "older-1"), ("api", "older-2")):
        settings = await prepare_service(make_settings, RouterSettings, MIGRATIONS, api_keys=KEYS)
        engine = create_engine(settings)
        async with engine.begin() as conn:
            await activate(
                conn, version=version, document=policy(version), source=source, actor="test"
            )
        await engine.dispose()
        async with serving(create_app(settings)) as client:
            answers[source] = (await client.get("/policy", headers=OPS)).json()["version"]

    assert answers == {"shipped default": DEFAULT_VERSION, "api": "older-2"}


async def test_replicas_starting_together_activate_the_policy_once(make_settings) -> None:
    """Replicas started at the same moment on an empty database each try to activate the
    shipped default: one does, the others find it active, and every one of them starts."""
    settings = await prepare_service(make_settings, RouterSettings, MIGRATIONS, api_keys=KEYS)
    async with contextlib.AsyncExitStack() as stack:
        clients = await asyncio.gather(
            *(stack.enter_async_context(running(create_app(settings))) for _ in range(6))
        )
        versions = {(await c.get("/policy", headers=OPS)).json()["version"] for c in clients}

    assert versions == {DEFAULT_VERSION}
    rows = await query(settings, "SELECT version, active FROM policy_versions")
    assert rows == [(DEFAULT_VERSION, True)]
    activations = await query(
        settings, "SELECT count(*) FROM audit_log WHERE action = 'policy.activate'"
    )
    assert activations == [(1,)]
