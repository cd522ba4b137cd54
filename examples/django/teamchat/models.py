from django.conf import settings
from django.db import models


class Team(models.Model):
    """A team has a chat room in Confab: `team.<id>`."""

    name = models.CharField(max_length=100)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    @property
    def room(self) -> str:
        return f"team.{self.pk}"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="member")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="one_membership")]


class Message(models.Model):
    """A chat message, as Confab reported it (`message_stored` webhook).

    Webhooks are delivered at least once: `event_id` (the event's `id`) is
    unique, so a batch posted twice stores each message once.
    """

    event_id = models.CharField(max_length=100, unique=True)
    room = models.CharField(max_length=100, db_index=True)
    offset = models.BigIntegerField()
    sender_id = models.CharField(max_length=100)
    sender_name = models.CharField(max_length=100)
    text = models.TextField(blank=True)
    payload = models.JSONField()
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room", "offset"]

    def __str__(self) -> str:
        return f"{self.room}#{self.offset} {self.sender_id}: {self.text}"
