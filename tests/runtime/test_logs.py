"""Logs are JSON lines; e-mail addresses never reach them."""

from __future__ import annotations

import json
import logging

from baton_runtime.logs import configure_logging, get_logger


def test_log_lines_are_json_with_event_context_and_no_email(capsys) -> None:
    configure_logging("router", "INFO")
    get_logger("test").info(
        "lead accepted from ada@example.com",
        event_id="e-1",
        lead_key="email:abc",
        payload={"person": {"email": "Grace.Hopper+x@navy.mil"}},
    )
    logging.getLogger("uvicorn.error").warning("stdlib line about bob@example.org")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["event_id"] == "e-1"
    assert lines[0]["lead_key"] == "email:abc"
    assert lines[0]["service"] == "router"
    assert lines[0]["event"] == "lead accepted from <email>"
    assert lines[0]["payload"] == {"person": {"email": "<email>"}}
    assert lines[1]["event"] == "stdlib line about <email>"
    assert "@" not in json.dumps(lines)
