import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Add a team member who can log in (there is no public sign-up)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="default: a generated password, printed once")
        parser.add_argument("--staff", action="store_true", help="may open the admin and see every project")

    def handle(self, *args, username: str, email: str, password: str | None, staff: bool, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        User.objects.create_user(username, email, password, is_staff=staff)
        self.stdout.write(self.style.SUCCESS(f"Created {username!r}."))
        if generated:
            self.stdout.write(f"Password (shown once): {password}")
