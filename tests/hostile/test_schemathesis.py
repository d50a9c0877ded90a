"""schemathesis against every service's OpenAPI document (`/openapi.json`), through the app
in-process (ASGI) on the real embedded PostgreSQL and broker.

Every operation is fuzzed with schema-valid (positive) and schema-violating (negative)
requests, each signed or keyed as a legitimate client would send it, so the cases reach the
handlers: webhooks carry their platform's signature over the exact bytes sent, admin and
feedback requests the bearer key. Every response must pass schemathesis' checks: never a
5xx, the status documented, the body and content type as documented, documented headers
present, invalid input refused with a 4xx and valid input not refused (a 422 is allowed
there: a rule JSON Schema cannot state, such as a range's end after its start or a rep that
must exist), and an operation that declares an API key refusing a request without it.

A second pass pins the path parameters to things that exist (a rep, a pool, an account, a
routed lead, a lead with a deadline), so the handlers that change them run too.

schemathesis' pytest integration does not run on pytest 9 (it reads `Function._nodeid`),
so each operation's cases come from its public `as_strategy()` under a Hypothesis test of
our own: derandomized, no deadline, no example database, a fixed number of examples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hostile_support import AUTH, SERVICES, SigningAuth, prepare, serving_service
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from router_support import LEAD
from schemathesis import GenerationMode
from schemathesis.python import asgi
from sla_support import policy_record

from baton_runtime.testing import encode_assigned, produce, running, sample_assigned

pytestmark = pytest.mark.filterwarnings(
    # schemathesis draws from `random` inside its strategies; Hypothesis seeds it per example.
    "ignore:Do not use the `random` module inside strategies"
)

EXAMPLES = 25
"""Cases per operation and generation mode (and per pinned pass): about a minute for all
three services on the 2-core build machine."""

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 7,
        "generation": {
            # A query parameter nobody declared is ignored, as HTTP APIs do; not a failure.
            "allow-extra-parameters": False,
            # Credentials are ours (the bearer key, the signatures), never made up.
            "with-security-parameters": False,
            # Strings a JSON Schema of "any object" cannot exclude but the doors refuse
            # with a 400 naming where (test_bodies): NUL, which PostgreSQL cannot store,
            # and lone surrogates, which are no Unicode characters. Negative cases still
            # carry them.
            "allow-x00": False,
            "codec": "utf-8",
        },
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            },
            # Input that breaks the schema may also be too large (a string of a million
            # characters in a body of at most 2 MiB): 413 refuses it as well as 400 or 422.
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                ]
            },
        },
    }
)

HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

HOSTILE_REP = "hostile-rep"
HOSTILE_POOL = "hostile-pool"
HOSTILE_DOMAIN = "hostile-example.com"
HOSTILE_SLA_LEAD = "hostile-sla-lead"


@dataclass
class Fuzzed:
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def report(self) -> str:
        return "\n".join(
            f"{label}: {dict(sorted(counts.items()))}" for label, counts in self.statuses.items()
        )


def _session() -> requests.Session:
    session = requests.Session()
    session.auth = SigningAuth()
    return session


def _run(
    fuzzed: Fuzzed,
    operation: Any,
    mode: GenerationMode,
    session: requests.Session,
    label: str,
    **strategy: Any,
) -> None:
    counts: Counter[int] = fuzzed.statuses.setdefault(label, Counter())

    @given(case=operation.as_strategy(generation_mode=mode, **strategy))
    @HYPOTHESIS
    def cases(case: schemathesis.Case) -> None:
        response = case.call_and_validate(session=session, headers=dict(AUTH))
        counts[response.status_code] += 1

    try:
        cases()
    except Unsatisfiable:
        pass  # nothing to negate (an operation without parameters or body)
    except (Exception, BaseExceptionGroup) as exc:
        message = str(exc)  # a failing case's body can be megabytes: keep the start
        fuzzed.failures.append(f"{label}: {message[:4000]}")


def fuzz(schema: Any, pinned: dict[str, str] | None = None) -> Fuzzed:
    """Every operation in both modes; then, with the path parameters in `pinned`, every
    operation whose parameters they all name (except DELETE, which would remove them for
    the rest) once more with valid input."""
    fuzzed = Fuzzed()
    session = _session()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(fuzzed, operation, mode, session, f"{operation.label} [{mode.value}]")
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        if not names or not pinned or not names <= set(pinned) or operation.method == "delete":
            continue
        values = {name: pinned[name] for name in names}
        label = f"{operation.label} [pinned {values}]"
        _run(
            fuzzed,
            operation,
            GenerationMode.POSITIVE,
            session,
            label,
            path_parameters=values,
        )
    return fuzzed


def call(schema: Any, method: str, path: str, **case: Any) -> Any:
    """One request through the schema's app, signed and keyed."""
    operation = schema[path][method]
    return operation.Case(**case).call(session=_session(), headers=dict(AUTH))


def until(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = probe()
    return value


async def _schema(make_settings: Any, name: str) -> AsyncIterator[tuple[Any, Any]]:
    service = SERVICES[name]
    config = await prepare(make_settings, service)
    if name == "sla-monitor":
        # A policy and an assignment already on the topics: a lead with a deadline.
        await produce(config.kafka_bootstrap, config.topics.policy_events, [policy_record(config)])
        assigned = encode_assigned(config, sample_assigned(HOSTILE_SLA_LEAD))
        await produce(config.kafka_bootstrap, config.topics.leads_assigned, [assigned])
    app = service.create_app(config)
    # Loading the document starts the app's lifespan on schemathesis' own event loop, where
    # every request then runs; it is stopped when the test ends.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    try:
        # Consumers join their groups in the background; until then /readyz is a 503.
        ready = until(
            lambda: call(schema, "GET", "/readyz"), lambda answer: answer.status_code == 200
        )
        assert ready.status_code == 200, ready.text
        yield config, schema
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
async def router_schema(make_settings: Any) -> AsyncIterator[tuple[Any, Any]]:
    async for pair in _schema(make_settings, "router"):
        yield pair


@pytest.fixture
async def sla_schema(make_settings: Any) -> AsyncIterator[tuple[Any, Any]]:
    async for pair in _schema(make_settings, "sla-monitor"):
        yield pair


@pytest.fixture
async def feedback_schema(make_settings: Any) -> AsyncIterator[tuple[Any, Any]]:
    async for pair in _schema(make_settings, "feedback"):
        yield pair


def check(fuzzed: Fuzzed) -> None:
    print("\n" + fuzzed.report())
    assert not fuzzed.failures, "\n\n".join(fuzzed.failures)
    refused = {
        label: counts
        for label, counts in fuzzed.statuses.items()
        if "[negative]" not in label and (counts[401] or counts[403])
    }
    assert not refused, f"signed or keyed requests refused: {refused}"


def test_router_openapi(router_schema: tuple[Any, Any]) -> None:
    _, schema = router_schema
    rep = call(
        schema,
        "PUT",
        "/roster/reps/{rep_id}",
        path_parameters={"rep_id": HOSTILE_REP},
        body={"name": "Hostile Rep"},
    )
    pool = call(
        schema,
        "PUT",
        "/roster/pools/{name}",
        path_parameters={"name": HOSTILE_POOL},
        body={"strategy": "round_robin", "members": [{"rep_id": HOSTILE_REP}]},
    )
    account = call(
        schema,
        "PUT",
        "/roster/accounts/{domain}",
        path_parameters={"domain": HOSTILE_DOMAIN},
        body={"rep_id": HOSTILE_REP},
    )
    lead = call(schema, "POST", "/webhooks/generic", body=LEAD, media_type="application/json")
    assert [rep.status_code, pool.status_code, account.status_code] == [201, 201, 201]
    assert lead.status_code == 202, lead.text
    lead_key = lead.json()["lead_keys"][0]
    routed = until(
        lambda: call(schema, "GET", "/leads/{lead_key}", path_parameters={"lead_key": lead_key}),
        lambda answer: answer.status_code == 200,
    )
    assert routed.status_code == 200, routed.text

    fuzzed = fuzz(
        schema,
        {
            "rep_id": HOSTILE_REP,
            "name": HOSTILE_POOL,
            "domain": HOSTILE_DOMAIN,
            "lead_key": lead_key,
        },
    )
    check(fuzzed)
    for source in ("generic", "hubspot", "marketo", "mautic"):
        # Signed as the platform signs: every case got past the signature check.
        counts = fuzzed.statuses[f"POST /webhooks/{source} [positive]"]
        assert counts[202] + counts[422] == sum(counts.values()), (source, counts)


def test_sla_monitor_openapi(sla_schema: tuple[Any, Any]) -> None:
    _, schema = sla_schema
    found = until(
        lambda: call(
            schema, "GET", "/sla/leads/{lead_key}", path_parameters={"lead_key": HOSTILE_SLA_LEAD}
        ),
        lambda answer: answer.status_code == 200,
    )
    assert found.status_code == 200, found.text
    check(fuzz(schema, {"lead_key": HOSTILE_SLA_LEAD}))


def test_feedback_openapi(feedback_schema: tuple[Any, Any]) -> None:
    _, schema = feedback_schema
    fuzzed = fuzz(schema)
    check(fuzzed)
    counts = fuzzed.statuses["POST /feedback [positive]"]
    assert counts[202], f"no valid feedback event was accepted: {counts}"


@pytest.mark.parametrize("name", ["router", "sla-monitor", "feedback"])
async def test_a_service_stopped_while_its_consumers_join_stops_cleanly(
    make_settings: Any, name: str
) -> None:
    """Regression: stopping a service whose consumers were still joining their group
    (found when schemathesis ended an app's lifespan) raised CancelledError out of the
    shutdown, which left the outbox relay, the producer and the engine open."""
    service = SERVICES[name]
    config = await prepare(make_settings, service)
    app = service.create_app(config)
    async with running(app) as client:
        answer = await client.get("/readyz")
        assert answer.json()["checks"]["consumer_group"] is False  # still joining
    runtime = app.state.runtime
    assert all(task.done() for task in runtime._tasks.values())


@pytest.mark.parametrize(
    ("name", "path"), [("sla-monitor", "/sla/stats"), ("feedback", "/reports/funnel")]
)
async def test_a_report_window_is_an_iso_8601_date_time(
    make_settings: Any, name: str, path: str
) -> None:
    """Regression (schemathesis' negative pass): `since=-1.97e-267` was read as seconds
    since 1970 and answered 200; a window is a date-time, anything else a 422 naming it."""
    async with serving_service(make_settings, name, consumers_enabled=False) as (_, _, client):
        for value in ("-1.969575965365733e-267", "1717200000", "yesterday"):
            answer = await client.get(path, params={"since": value}, headers=AUTH)
            assert answer.status_code == 422, (value, answer.text)
            assert answer.json()["detail"][0]["loc"] == ["query", "since"]
        answer = await client.get(path, params={"since": "2025-06-01T00:00:00Z"}, headers=AUTH)
        assert answer.status_code == 200, answer.text
