from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from api.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a member and print it (once: only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("user", help="username")
        parser.add_argument("--name", default="command line", help="what the token is for")
        parser.add_argument("--read-only", action="store_true", help="the token may only read")
        parser.add_argument("--expires-days", type=int, default=None, help="expire after this many days")

    def handle(self, *args, user, name, read_only, expires_days, **options):
        try:
            member = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no member named {user!r}") from None
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1")
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        _, raw = ApiToken.issue(member, name, read_only=read_only, expires_at=expires)
        self.stdout.write(raw)
