from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects import sharing
from projects.models import Project


class Command(BaseCommand):
    help = "Share a project with a member as viewer or editor, or remove them (--role none): what the share page does."

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sharing.ROLE_CHOICES)

    def handle(self, *args, **opts):
        project = Project.objects.filter(pk=opts["project_id"]).select_related("owner").first()
        if project is None:
            raise CommandError(f"No project with id {opts['project_id']}.")
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['username']!r}.")
        try:
            outcome = sharing.set_role(project, user, opts["role"], actor=None)
        except sharing.SharingError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{project.name} (#{project.pk}): {user.get_username()} {outcome} ({opts['role']})")
