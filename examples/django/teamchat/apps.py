from django.apps import AppConfig


class TeamchatConfig(AppConfig):
    name = "teamchat"
    default_auto_field = "django.db.models.BigAutoField"
