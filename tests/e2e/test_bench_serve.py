"""The bench's HTTP app: the no-op ceiling of (c) is routed like a webhook."""

from __future__ import annotations

from baton_router.config import RouterSettings
from bench.router_setup import GENERIC_SECRET
from bench.serve import NOOP_PATH, WEBHOOK_PATH, app_with_noop, route_position


def test_the_noop_route_is_tried_no_later_than_the_webhook_route() -> None:
    # Every route listed before a request's own is tried first; appended after all the
    # routers, the no-op paid more per request for that than a webhook did.
    app = app_with_noop(RouterSettings(webhook_secrets={"generic": [GENERIC_SECRET]}))
    assert route_position(app, NOOP_PATH) <= route_position(app, WEBHOOK_PATH)
