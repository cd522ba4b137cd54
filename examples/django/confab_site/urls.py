from django.contrib.auth import views as auth_views
from django.urls import path

from teamchat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/<int:team_id>/", views.room, name="room"),
    path("teams/<int:team_id>/announce", views.announce, name="announce"),
    path("teams/<int:team_id>/messages", views.messages, name="messages"),
    # What the browser asks for before it connects to Confab.
    path("confab/token", views.token, name="confab-token"),
    # What Confab calls (signed with CONFAB_BACKEND_SECRET).
    path("confab/hooks", views.hooks, name="confab-hooks"),
    path("confab/events", views.events, name="confab-events"),
]
