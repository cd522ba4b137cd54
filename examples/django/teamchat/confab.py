"""What Django needs to work with Confab: the standard library and PyJWT.

- mint_token(user): the JWT the browser presents to Confab (`?token=`),
  HS256 with CONFAB_TOKEN_SECRET (confab-server --token-secret), claims of
  docs/PERMISSIONS.md.
- @from_confab: a view only Confab may call (hooks, webhooks): the request
  must carry a valid `X-Confab-Signature` over `X-Confab-Timestamp` and the
  raw body (HMAC-SHA256 with CONFAB_BACKEND_SECRET), and the timestamp must
  be at most 300 s away (an older request is a replay). docs/BACKEND.md.
- publish(room, payload): Channels' `group_send` from a view, through the
  server API (`POST /api/rooms/{room}/messages`, CONFAB_API_KEY).
"""
import functools
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


def _setting(name: str) -> str:
    value = getattr(settings, name)
    if not value:
        raise ImproperlyConfigured(f"set {name} (environment variable) to use Confab")
    return value


def mint_token(user, ttl: int | None = None) -> str:
    now = int(time.time())
    claims = {
        "sub": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
        "iat": now,
        "exp": now + (ttl or settings.CONFAB_TOKEN_TTL),
    }
    return jwt.encode(claims, _setting("CONFAB_TOKEN_SECRET"), algorithm="HS256")


def signature_problem(request) -> str | None:
    """Why this request is not from Confab, or None when it is."""
    ts = request.headers.get("X-Confab-Timestamp", "")
    sig = request.headers.get("X-Confab-Signature", "")
    if not ts or not sig.startswith("v1="):
        return "unsigned"
    try:
        age = abs(time.time() - int(ts))
    except ValueError:
        return "bad timestamp"
    secret = _setting("CONFAB_BACKEND_SECRET").encode()
    mac = hmac.new(secret, ts.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, sig.removeprefix("v1=")):
        return "bad signature"
    if age > settings.CONFAB_SIGNATURE_WINDOW:
        return "stale timestamp (replayed?)"
    return None


def from_confab(view):
    """Decorates a view Confab calls: POST only, signature checked, no CSRF
    (the signature is the proof of origin), JSON body parsed."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return JsonResponse({"error": "POST only"}, status=405)
        problem = signature_problem(request)
        if problem:
            return JsonResponse({"error": problem}, status=403)
        try:
            body = json.loads(request.body)
        except ValueError:
            return JsonResponse({"error": "body is not JSON"}, status=400)
        return view(request, body, *args, **kwargs)

    return wrapper


class PublishError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"Confab answered {status}: {body}")
        self.status = status
        self.body = body


def publish(room: str, payload, idempotency_key: str | None = None, timeout: float = 5.0) -> dict:
    """Publish `payload` (any JSON) to `room`; returns {"room", "offset", "ts"}.

    The Idempotency-Key makes a retry safe: the same key is stored once.
    """
    request = urllib.request.Request(
        f"{settings.CONFAB_URL}/api/rooms/{urllib.parse.quote(room, safe='')}/messages",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {_setting('CONFAB_API_KEY')}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key or uuid.uuid4().hex,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        raise PublishError(e.code, e.read().decode(errors="replace")) from None
