"""Creates the example's users and teams (idempotent).

  alice: team 42 (owner)      bob: team 7      carol: teams 42 and 7
"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from teamchat.models import Membership, Team

TEAMS = {42: "Rustaceans", 7: "Pythonistas"}
USERS = {  # username: (full name, {team id: role})
    "alice": ("Alice", {42: "owner"}),
    "bob": ("Bob", {7: "owner"}),
    "carol": ("Carol", {42: "member", 7: "member"}),
}


class Command(BaseCommand):
    help = "Create the example users (alice, bob, carol) and teams (42, 7)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="confab-demo")

    def handle(self, *args, password, **options):
        User = get_user_model()
        for pk, name in TEAMS.items():
            Team.objects.update_or_create(pk=pk, defaults={"name": name})
        for username, (full_name, teams) in USERS.items():
            user, _ = User.objects.get_or_create(username=username)
            user.first_name = full_name
            user.set_password(password)
            user.save()
            for team_id, role in teams.items():
                Membership.objects.update_or_create(
                    user=user, team_id=team_id, defaults={"role": role}
                )
        self.stdout.write(f"users {', '.join(USERS)} (password {password!r}); teams {TEAMS}")
