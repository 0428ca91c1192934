from django.http import HttpRequest

from waystation.accounts.models import User


class AuthedHttpRequest(HttpRequest):
    """A request past ``LoginRequiredMiddleware``: its user is always a signed-in ``User``."""

    user: User
