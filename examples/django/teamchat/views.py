"""The Django side of a Confab chat.

The seeds' Channels consumer (`ChatConsumer`) becomes:

  connect()          -> `token` (who you are) + `hooks` "join" (may you enter)
  receive()          -> `hooks` "publish" (may you say this, and what is kept)
  group_send() from a view -> `announce` (confab.publish, the server API)
  chat_message()     -> nothing: Confab delivers to the room's members
  (saving messages)  -> `events` ("message_stored" webhooks, into the ORM)

See examples/django/README.md for the line-by-line migration.
"""
import datetime
import logging
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from . import confab
from .models import Membership, Message, Team

log = logging.getLogger(__name__)
TEAM_ROOM = re.compile(r"team\.(\d+)")
MAX_TEXT = 2000


# --- pages -------------------------------------------------------------------


@login_required
def home(request):
    mine = Team.objects.filter(members=request.user)
    others = Team.objects.exclude(members=request.user)
    return render(request, "teamchat/home.html", {"mine": mine, "others": others})


@login_required
def room(request, team_id):
    team = get_object_or_404(Team, pk=team_id)
    # A non-member sees the page too: joining is refused by the join hook,
    # and the page shows Confab's refusal.
    return render(
        request,
        "teamchat/room.html",
        {"team": team, "member": team.members.filter(pk=request.user.pk).exists()},
    )


# --- what the browser asks Django --------------------------------------------


@require_GET
def token(request):
    """The logged-in user's Confab token (the browser connects with `?token=`)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    return JsonResponse(
        {
            "token": confab.mint_token(request.user),
            "ws_url": settings.CONFAB_WS_URL,
            "user": request.user.get_username(),
        }
    )


@require_POST
def announce(request, team_id):
    """Publish to the team's room from Django (Channels: `group_send` from a view)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    team = get_object_or_404(Team, pk=team_id)
    if not team.members.filter(pk=request.user.pk).exists():
        return JsonResponse({"error": "not a member"}, status=403)
    text = request.POST.get("message", "").strip()
    if not text or len(text) > MAX_TEXT:
        return JsonResponse({"error": f"message: 1 to {MAX_TEXT} characters"}, status=400)
    payload = {"message": text, "announcement": True, "by": request.user.get_username()}
    try:
        # A client-chosen key (a form's hidden field) makes a double submit
        # publish once; without one, each request is a new message.
        stored = confab.publish(team.room, payload, request.POST.get("idempotency_key"))
    except (confab.PublishError, OSError) as e:
        log.warning("publish to %s failed: %s", team.room, e)
        return JsonResponse({"error": "Confab did not take the message"}, status=502)
    return JsonResponse(stored, status=201)


@require_GET
def messages(request, team_id):
    """The team room's messages as stored in Django's database (from webhooks)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    team = get_object_or_404(Team, pk=team_id)
    if not team.members.filter(pk=request.user.pk).exists():
        return JsonResponse({"error": "not a member"}, status=403)
    rows = Message.objects.filter(room=team.room).order_by("-offset")[:50]
    return JsonResponse(
        {
            "messages": [
                {"offset": m.offset, "from": m.sender_id, "text": m.text, "sent_at": m.sent_at}
                for m in reversed(rows)
            ]
        }
    )


# --- what Confab asks Django (signed) ----------------------------------------


def _membership(room: str, user_id: str):
    """(team, membership or None) for a `team.<id>` room; (None, None) otherwise."""
    match = TEAM_ROOM.fullmatch(room or "")
    if not match:
        return None, None
    team = Team.objects.filter(pk=int(match[1])).first()
    if team is None:
        return None, None
    return team, Membership.objects.filter(team=team, user__username=user_id).first()


def join_hook(room: str, user: dict) -> dict:
    # Channels: the checks at the top of ChatConsumer.connect(), before accept().
    team, membership = _membership(room, user.get("id"))
    if team is None:
        return {"result": "deny", "code": "no_such_team", "message": f"{room} is not a team room"}
    if membership is None:
        return {"result": "deny", "code": "not_a_member", "message": f"you are not in team {team.pk}"}
    # Allowed, and the other members see the member's role (Member.info).
    return {"result": "modify", "info": {"role": membership.role}}


def publish_hook(room: str, user: dict, payload) -> dict:
    # Channels: ChatConsumer.receive(), the part that looked at the text.
    text = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return {"result": "deny", "code": "bad_message", "message": "send {\"message\": text}"}
    if len(text) > MAX_TEXT:
        return {"result": "deny", "code": "too_long", "message": f"at most {MAX_TEXT} characters"}
    if text != text.strip():  # what is stored and delivered: the trimmed text
        return {"result": "modify", "payload": {**payload, "message": text.strip()}}
    return {"result": "allow"}


@confab.from_confab
def hooks(request, body):
    """Confab asks before a join or a publish in rooms whose policy rule names
    the hook (confab.toml: `hooks = ["join", "publish"]`), and does what we say."""
    hook = body.get("hook")
    if hook == "join":
        answer = join_hook(body.get("room"), body.get("user") or {})
    elif hook == "publish":
        answer = publish_hook(body.get("room"), body.get("user") or {}, body.get("payload"))
    elif hook == "connect":
        answer = {"result": "allow"}
    else:
        answer = {"result": "deny", "code": "unknown_hook", "message": str(hook)}
    log.info("hook %s %s %s -> %s", hook, body.get("room"), (body.get("user") or {}).get("id"), answer["result"])
    return JsonResponse(answer)


@confab.from_confab
def events(request, body):
    """Webhook batches. Delivery is at least once: `event_id` is unique, so a
    batch posted again stores nothing twice. Answering 2xx acknowledges the
    batch; an exception (500) makes Confab post it again later."""
    stored = 0
    with transaction.atomic():
        for event in body.get("events", []):
            if event.get("event") != "message_stored":
                continue
            msg = event["message"]
            payload = msg.get("payload")
            text = payload.get("message", "") if isinstance(payload, dict) else ""
            sender = msg.get("from") or {}
            _, created = Message.objects.get_or_create(
                event_id=event["id"],
                defaults={
                    "room": msg["room"],
                    "offset": msg["offset"],
                    "sender_id": sender.get("id", ""),
                    "sender_name": sender.get("name", sender.get("id", "")),
                    "text": text if isinstance(text, str) else "",
                    "payload": payload,
                    "sent_at": datetime.datetime.fromtimestamp(msg["ts"] / 1000, tz=datetime.timezone.utc),
                },
            )
            stored += created
    return JsonResponse({"stored": stored})
