"""Building the canonical `baton.lead.captured.v1` from a platform's payload.

Every source maps the platform's fields onto canonical *targets* (`person.email`,
`company.employees`, ...) through a `LeadDraft`, which coerces each value to the target's
type and remembers where it came from, so a value that cannot be used is reported under
the platform's own field name (`properties.numemployees.value`), not the canonical one.
Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from baton_schemas import LeadCaptured

MAX_RECORD_ID = 150  # lead keys are at most 200 characters: "<source>:<record id>"


class NormalisationError(ValueError):
    """The payload cannot become a lead; `fields` names what is wrong."""

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


def lead_key_for(email: str | None, source: str, record_id: str | None) -> str | None:
    """One person is one lead: the key is derived from the normalised e-mail when there is one."""
    if email and email.strip():
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"email:{digest}"
    if record_id:
        return f"{source}:{record_id}"
    return None


def fail(field_name: str, error: str, message: str | None = None) -> NormalisationError:
    return NormalisationError(
        message or f"{field_name}: {error}", [{"field": field_name, "error": error}]
    )


def validate_lead(
    data: dict[str, Any], message: str, field_of: Callable[[tuple[int | str, ...]], str]
) -> LeadCaptured:
    """The canonical lead from `data`; a NormalisationError naming each bad field as the
    sender knows it (`field_of` maps a model location to the payload's field)."""
    try:
        return LeadCaptured.model_validate(data)
    except ValidationError as exc:
        # One entry per field: a value that fits no member of a union fails each of them.
        errors: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False, include_input=False):
            found = errors.setdefault(field_of(error["loc"]), [])
            if error["msg"] not in found:
                found.append(error["msg"])
        fields = [{"field": name, "error": "; ".join(msgs)} for name, msgs in errors.items()]
        raise NormalisationError(message, fields) from exc


def dotted_loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def payload_loc(payload: Any) -> Callable[[tuple[int | str, ...]], str]:
    """`field_of` for a lead validated as the payload sent it: a model location as the
    payload's own path. Where pydantic goes on past the payload's value with a union
    member's tag (`custom.note.str`), the path ends at the value; a missing field's name is
    kept (`activities.0.occurred_at`)."""

    def field_of(loc: tuple[int | str, ...]) -> str:
        current: Any = payload
        parts: list[int | str] = []
        for part in loc:
            in_object = isinstance(current, dict) and isinstance(part, str) and part in current
            in_array = isinstance(current, list) and isinstance(part, int) and part < len(current)
            if not (in_object or in_array):
                tag = isinstance(part, str) and (part in _UNION_TAGS or "[" in part)
                if isinstance(current, dict) and not tag:
                    parts.append(part)
                break
            current = current[part]
            parts.append(part)
        return dotted_loc(tuple(parts)) or "$"

    return field_of


def fingerprint(value: Any) -> str:
    """A stable hash of a JSON value (key order and whitespace do not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Captured:
    """One lead out of a delivery. `dedupe` is a key that is the same whenever the platform
    redelivers this lead (None: the delivery id or the body hash, plus the position).
    `raw_json` is the payload's JSON as received when the lead was read without parsing
    it into Python values (`lead.raw` is then None): the event carries it as its `raw`."""

    lead: LeadCaptured
    dedupe: str | None = None
    raw_json: bytes | None = None

    def event_json(self) -> bytes:
        """The `baton.lead.captured.v1` data, as `encode_event` would write it."""
        data = self.lead.__pydantic_serializer__.to_json(self.lead)
        if self.raw_json is None:
            return data
        if not data.endswith(_RAW_LEFT_OUT):  # `raw` is the model's last field
            raise AssertionError("a captured lead's JSON no longer ends with its raw payload")
        return data[: -len(b"null}")] + self.raw_json + b"}"


_RAW_LEFT_OUT = b'"raw":null}'


# Conversions ------------------------------------------------------------------------------


class Unusable(ValueError):
    """A value of the wrong shape for its target; the message is the error to report."""


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unusable("expected a string, got a non-finite number")
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else str(value)
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    raise Unusable(f"expected a string, got {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def to_text(value: Any) -> str | None:
    return _scalar_text(value)


def to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        raise Unusable("expected a number, got a boolean")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise Unusable("number out of range") from None
    else:
        text = _scalar_text(value)
        if text is None:
            return None
        try:
            number = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise Unusable(f"expected a number, got {text[:40]!r}") from None
    if not math.isfinite(number):
        raise Unusable("expected a finite number")
    if number < 0:
        raise Unusable("must not be negative")
    return number


_RANGE = re.compile(r"^\s*(\d[\d,]*)\s*(?:-|\u2013|to|\+)\s*(?:\d[\d,]*)?\s*$")


def to_count(value: Any) -> int | None:
    """A head count: a number, or a range as platforms offer them ("25-50", "1000+"),
    taken at its lower bound."""
    if isinstance(value, str):
        match = _RANGE.match(value)
        if match:
            return int(match.group(1).replace(",", ""))
    number = to_number(value)
    if number is None:
        return None
    if not number.is_integer() or number > 10**12:
        raise Unusable("expected a whole number")
    return int(number)


_TRUE = {"true", "yes", "y", "1", "on", "checked"}
_FALSE = {"false", "no", "n", "0", "off", "unchecked"}


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _scalar_text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Unusable(f"expected a boolean, got {text[:40]!r}")


_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def to_datetime(value: Any, naive: tzinfo = UTC) -> datetime | None:
    """ISO 8601 (naive times are taken in `naive`), epoch seconds / milliseconds, or a
    `datetime` (what a source passes when the payload has no time: its receipt time)."""
    if isinstance(value, bool):
        raise Unusable("expected a date-time, got a boolean")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=naive)).astimezone(UTC)
    elif isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > 10**15:
            raise Unusable("date-time out of range")
        if not math.isfinite(value):
            raise Unusable("expected a date-time, got a non-finite number")
        try:
            seconds = value / 1000 if abs(value) >= 1e11 else value
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise Unusable("date-time out of range") from None
    else:
        text = _scalar_text(value)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Unusable(f"expected an ISO 8601 date-time, got {text[:40]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=naive)
        moment = moment.astimezone(UTC)
    if not _MIN_TIME <= moment < _MAX_TIME:
        raise Unusable("date-time out of range")
    return moment


_HOST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def to_domain(value: Any) -> str | None:
    """A company's domain from a domain or a website URL; a value that is no host name is
    dropped (the domain is derived, and a free-text website field must not reject a lead)."""
    text = _scalar_text(value)
    if text is None:
        return None
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    host = host.removeprefix("www.")
    return host if _HOST.match(host) else None


def to_channel(value: Any) -> str | None:
    text = _scalar_text(value)
    return re.sub(r"[\s-]+", "_", text.lower()) if text else None


def to_list(value: Any) -> list[str]:
    if isinstance(value, list):
        items = [_scalar_text(item) for item in value]
        return [item for item in items if item]
    text = _scalar_text(value)
    if text is None:
        return []
    return [part.strip() for part in re.split(r"[;,]", text) if part.strip()]


def to_custom(value: Any) -> str | int | float | bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unusable("expected a finite number")
        return value
    return _scalar_text(value)


TEXT_TARGETS = {
    "person.email",
    "person.first_name",
    "person.last_name",
    "person.phone",
    "person.title",
    "person.persona",
    "person.language",
    "person.country",
    "person.region",
    "person.city",
    "company.name",
    "company.industry",
    "company.country",
    "consent.legal_basis",
    "attribution.campaign_id",
    "attribution.campaign_name",
    "attribution.utm_source",
    "attribution.utm_medium",
    "attribution.utm_campaign",
    "attribution.utm_term",
    "attribution.utm_content",
    "attribution.landing_page",
    "attribution.referrer",
    "source_record_id",
}

CONVERTERS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(TEXT_TARGETS, to_text),
    "company.domain": to_domain,
    "company.employees": to_count,
    "company.annual_revenue": to_number,
    "consent.email_opt_in": to_bool,
    # Platforms store the opt-out; the canonical lead carries the opt-in. Having opted out
    # means no opt-in; not having opted out says nothing about consent (unknown).
    "consent.email_opt_out": lambda value: False if to_bool(value) else None,
    "attribution.channel": to_channel,
    "product_interest": to_list,
}

ALIASES = {"consent.email_opt_out": "consent.email_opt_in"}


def is_target(name: str) -> bool:
    """Whether `name` is a canonical field a mapping may write (`custom.<key>` included)."""
    return name in CONVERTERS or (name.startswith("custom.") and len(name) > len("custom."))


_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


# The draft --------------------------------------------------------------------------------


@dataclass
class LeadDraft:
    """A lead being assembled from one platform payload."""

    source: str
    received_at: datetime
    raw: dict[str, Any] | list[Any]
    naive_time_zone: tzinfo = UTC
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    activities: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    # The platform field reported when the lead has neither e-mail nor record id.
    identity_field: str = "email"

    def put(self, target: str, value: Any, origin: str, *, overwrite: bool = False) -> None:
        """Set a canonical field from a platform field; empty values are skipped, and the
        first non-empty value wins unless `overwrite`."""
        if target.startswith("custom."):
            convert: Callable[[Any], Any] = to_custom
        else:
            convert = CONVERTERS[target]
        try:
            converted = convert(value)
        except Unusable as exc:
            self.errors.append({"field": origin, "error": str(exc)})
            return
        if converted is None or converted == []:
            return
        target = ALIASES.get(target, target)
        if target in self.values and not overwrite:
            return
        self.values[target] = converted
        self.origins[target] = origin

    def has(self, target: str) -> bool:
        return ALIASES.get(target, target) in self.values

    def activity(self, kind: str, occurred_at: Any, origin: str, detail: Any = None) -> None:
        """Record an engagement activity; one per (type, time)."""
        try:
            moment = to_datetime(occurred_at, self.naive_time_zone)
            text = _scalar_text(detail)
        except Unusable as exc:
            self.errors.append({"field": origin, "error": str(exc)})
            return
        if moment is None or not kind:
            return
        entry: dict[str, Any] = {"type": kind, "occurred_at": moment}
        if text:
            entry["detail"] = text[:500]
        self.activities.setdefault((kind, moment), entry)

    def build(self) -> LeadCaptured:
        if self.errors:
            names = ", ".join(entry["field"] for entry in self.errors)
            raise NormalisationError(f"payload fields cannot be used: {names}", self.errors)
        self._utm_from_landing_page()
        data: dict[str, Any] = {}
        for target, value in self.values.items():
            section, _, name = target.partition(".")
            if name:
                data.setdefault(section, {})[name] = value
            else:
                data[section] = value
        record_id = data.get("source_record_id")
        if isinstance(record_id, str) and len(record_id) > MAX_RECORD_ID:
            raise fail(self.origins["source_record_id"], f"longer than {MAX_RECORD_ID} characters")
        email = data.get("person", {}).get("email")
        key = lead_key_for(email, self.source, record_id)
        if key is None:
            raise NormalisationError(
                "a lead needs an e-mail address or the platform's record id",
                [{"field": self.identity_field, "error": "missing"}],
            )
        data["lead_key"] = key
        data["activities"] = sorted(self.activities.values(), key=lambda a: a["occurred_at"])
        return validate_lead(
            {**data, "source": self.source, "received_at": self.received_at, "raw": self.raw},
            "payload does not fit the canonical lead",
            self._origin_of,
        )

    def _origin_of(self, loc: tuple[int | str, ...]) -> str:
        path = dotted_loc(loc)
        for length in (2, 1):
            candidate = ".".join(str(part) for part in loc[:length])
            if candidate in self.origins:
                return self.origins[candidate]
        return path

    def _utm_from_landing_page(self) -> None:
        page = self.values.get("attribution.landing_page")
        if not isinstance(page, str) or "?" not in page:
            return
        try:
            query = dict(parse_qsl(urlsplit(page).query))
        except ValueError:
            return
        for name in _UTM:
            target = f"attribution.{name}"
            value = query.get(name, "").strip()
            if value and target not in self.values:
                self.values[target] = value[:500]
                self.origins[target] = self.origins["attribution.landing_page"]


def mapping_lookup(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """`data[path]` when that key exists, else the value at the dotted `path`."""
    if path in data:
        return True, data[path]
    current: Any = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current
