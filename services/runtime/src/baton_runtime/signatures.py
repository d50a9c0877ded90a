"""Webhook signature checks, one per scheme. Pure: the clock is an argument.

Every comparison of a secret-derived value goes through `hmac.compare_digest`, and every
configured secret is tried (rotation: the old and the new secret are both valid for a
while). An empty secret never matches anything. A failure raises `SignatureError` with a
reason that names what was wrong but never echoes a secret or an expected signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks import Webhook


class SignatureError(Exception):
    """The request is not signed by a holder of the source's secret (answered 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    """What a signature check may look at."""

    method: str
    url: str  # the URL the sender called; the intake leaves it empty for schemes not signing it
    headers: Mapping[str, str]
    body: bytes
    now: datetime
    tolerance_s: int = 300

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name, without the optional whitespace around it."""
        wanted = name.lower()
        value = self.headers.get(wanted)  # a server's headers come with lower-case names
        if value is None:
            value = next((v for key, v in self.headers.items() if key.lower() == wanted), None)
        if value is None:
            return None
        return value.strip(" \t") or None

    def require(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise SignatureError(f"missing {name} header")
        return value


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def equal(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)


def require_match(expected: Iterable[bytes], given: Sequence[bytes], header: str) -> None:
    """Pass when any expected value (one per secret: rotation) equals any given one.
    Every pair is compared in constant time and none short-circuits, so the time taken
    says nothing about which secret or how much of a signature matched."""
    matched = False
    for value in expected:
        for candidate in given:
            matched |= equal(value, candidate)
    if not matched:
        raise SignatureError(f"{header} does not match")


def check_window(sent_at_ms: int, request: SignedRequest, header: str) -> None:
    """Reject a timestamp outside now ± tolerance (a replay, or a forged future time)."""
    now_ms = int(request.now.timestamp() * 1000)
    tolerance_ms = request.tolerance_s * 1000
    if now_ms - sent_at_ms > tolerance_ms:
        raise SignatureError(f"{header} is older than {request.tolerance_s} seconds")
    if sent_at_ms - now_ms > tolerance_ms:
        raise SignatureError(f"{header} is more than {request.tolerance_s} seconds in the future")


def _usable(secrets: Sequence[str]) -> list[str]:
    return [secret for secret in secrets if isinstance(secret, str) and secret]


# HubSpot v3 ---------------------------------------------------------------------------------

HUBSPOT_SIGNATURE = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"
# HubSpot signs the URI with exactly these characters decoded (its documentation's table);
# any other percent-encoding stays as it is.
_HUBSPOT_DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)
_MILLIS = re.compile(r"^[0-9]{1,15}$")


def hubspot_uri(url: str) -> str:
    return _HUBSPOT_DECODED.sub(lambda match: chr(int(match.group(1), 16)), url)


def hubspot_v3_signature(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + hubspot_uri(url).encode() + body + timestamp.encode()
    return base64.b64encode(hmac_sha256(secret.encode(), message)).decode()


def verify_hubspot_v3(request: SignedRequest, secrets: Sequence[str]) -> None:
    signature = request.require(HUBSPOT_SIGNATURE)
    timestamp = request.require(HUBSPOT_TIMESTAMP)
    if not _MILLIS.match(timestamp):
        raise SignatureError(f"{HUBSPOT_TIMESTAMP} is not a time in milliseconds")
    check_window(int(timestamp), request, HUBSPOT_TIMESTAMP)
    expected = (
        hubspot_v3_signature(secret, request.method, request.url, request.body, timestamp).encode()
        for secret in _usable(secrets)
    )
    require_match(expected, [signature.encode()], HUBSPOT_SIGNATURE)


# Mautic -------------------------------------------------------------------------------------

MAUTIC_SIGNATURE = "Webhook-Signature"


def mautic_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret.encode(), body)).decode()


def verify_mautic(request: SignedRequest, secrets: Sequence[str]) -> None:
    given = request.require(MAUTIC_SIGNATURE).encode()
    expected = (mautic_signature(secret, request.body).encode() for secret in _usable(secrets))
    require_match(expected, [given], MAUTIC_SIGNATURE)


# A shared token in a header (Marketo) ----------------------------------------------------


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def verify_shared_token(request: SignedRequest, secrets: Sequence[str], header: str) -> None:
    """The header holds one of the secrets. Digests are compared, not the tokens: every
    comparison is then of equal length, so the time taken says nothing about a secret's
    length either (`compare_digest` returns at once on a length mismatch)."""
    given = _token_digest(request.require(header))
    require_match((_token_digest(secret) for secret in _usable(secrets)), [given], header)


# Standard Webhooks (generic) ----------------------------------------------------------------

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
_SECONDS = re.compile(r"^(0|[1-9][0-9]{0,11})$")
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
_SIGNATURE_SEPARATOR = re.compile(r",?[ \t]+")


@lru_cache(maxsize=64)
def standard_webhook(secret: str) -> Webhook:
    """The `standardwebhooks` signer for a `whsec_...` (base64) secret; ValueError if unusable.
    Kept per secret: building one decodes the secret, on every request otherwise."""
    try:
        return Webhook(secret)
    except Exception as exc:  # the library raises binascii.Error, its own error, ...
        raise ValueError(f"not a Standard Webhooks secret ({type(exc).__name__})") from None


def verify_standard_webhooks(request: SignedRequest, secrets: Sequence[str]) -> str:
    """Check `webhook-signature` and return `webhook-id`, the delivery's idempotency key.

    The expected signature is the `standardwebhooks` package's own (`Webhook.sign`); the
    headers are parsed here rather than by `Webhook.verify`, which reads the real clock with
    a fixed 5-minute window and raises unexpected exceptions on malformed signature lists.
    """
    message_id = request.require(WEBHOOK_ID)
    timestamp = request.require(WEBHOOK_TIMESTAMP)
    signatures = request.require(WEBHOOK_SIGNATURE)
    if not _MESSAGE_ID.match(message_id):
        raise SignatureError(f"{WEBHOOK_ID} must be 1-256 printable characters")
    if not _SECONDS.match(timestamp):
        raise SignatureError(f"{WEBHOOK_TIMESTAMP} is not a time in seconds")
    check_window(int(timestamp) * 1000, request, WEBHOOK_TIMESTAMP)
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None

    candidates: list[bytes] = []
    # Space-separated `v1,<base64>` entries; a header sent twice arrives joined by ", "
    # (RFC 9110), which splits the same way, whichever of the two holds the valid one.
    for entry in _SIGNATURE_SEPARATOR.split(signatures):
        version, separator, value = entry.partition(",")
        if version != "v1" or not separator:
            continue
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not candidates:
        raise SignatureError(f"{WEBHOOK_SIGNATURE} holds no v1 signature")

    sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    expected = [
        base64.b64decode(signer.sign(message_id, sent_at, text).partition(",")[2])
        for signer in _standard_signers(tuple(secrets))
    ]
    require_match(expected, candidates, WEBHOOK_SIGNATURE)
    return message_id


@lru_cache(maxsize=64)
def _standard_signers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    """The signers of the usable secrets, kept per configured list (looked up per request)."""
    signers = []
    for secret in _usable(secrets):
        try:
            signers.append(standard_webhook(secret))
        except ValueError:
            continue
    return tuple(signers)
