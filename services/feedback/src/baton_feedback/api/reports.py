"""The shared funnel numbers (bearer keys from FEEDBACK_API_KEYS, as for `POST /feedback`):

GET /reports/funnel     leads first assigned in a window (`since`, `until`, default the last
                        30 days), from handoff to won deal, overall and per source and
                        campaign (`by=source`, `by=campaign`, default both), with the
                        definitions; `format=csv` (or `Accept: text/csv`) for a spreadsheet
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from baton_feedback.db import funnel as funnel_db
from baton_feedback.domain import funnel
from baton_runtime.api_auth import admin_router
from baton_runtime.app_state import runtime_of
from baton_runtime.report_window import Instant, report_window

Dimension = Literal["source", "campaign"]
CSV = "text/csv"


def reports_router() -> APIRouter:
    router = admin_router(prefix="/reports", tags=["reports"])

    @router.get(
        "/funnel",
        response_model=None,
        responses={
            200: {
                "description": "the funnel, as JSON or (`format=csv`, `Accept: text/csv`) CSV",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    CSV: {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def funnel_report(
        request: Request,
        since: Instant | None = None,
        until: Instant | None = None,
        by: Annotated[list[Dimension] | None, Query()] = None,
        answer_format: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    ) -> dict[str, Any] | Response:
        since, until = report_window(since, until)
        dimensions = list(dict.fromkeys(by or funnel_db.DIMENSIONS))
        async with runtime_of(request).engine.connect() as conn:
            total, groups = await funnel_db.funnel(conn, since, until, dimensions)
        overall = funnel.figures(total.counts)
        rows = [{**group.keys, **funnel.figures(group.counts)} for group in groups]
        if _wants_csv(answer_format, request.headers.get("accept", "")):
            return Response(
                funnel.to_csv(overall, rows),
                media_type=f"{CSV}; charset=utf-8",
                headers={"Content-Disposition": _attachment(since, until)},
            )
        return {
            "window": {"since": since.isoformat(), "until": until.isoformat()},
            "by": dimensions,
            "total": overall,
            "groups": rows,
            "definitions": funnel.DEFINITIONS,
        }

    return router


def _wants_csv(answer_format: str | None, accept: str) -> bool:
    if answer_format is not None:
        return answer_format == "csv"
    return any(part.split(";")[0].strip() == CSV for part in accept.split(","))


def _attachment(since: datetime, until: datetime) -> str:
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    return f'attachment; filename="baton-funnel-{stamp(since)}-{stamp(until)}.csv"'
