from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat as _filesizeformat

from rendering.cleanup import Scope, execute, parse_age, plan


def filesizeformat(size: int) -> str:
    return _filesizeformat(size).replace("\xa0", " ")


class Command(BaseCommand):
    help = "Delete old rendered outputs (history rows stay, marked 'output deleted') and, optionally, leftovers."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", help="e.g. 30d or 2w (default: any age)")
        parser.add_argument("--project", type=int, help="only this project (id)")
        parser.add_argument("--user", help="only this user's outputs (username)")
        parser.add_argument("--leftovers", action="store_true", help="also scratch files of dead jobs and orphan outputs")
        parser.add_argument("--caches", action="store_true", help="also mel/face-track caches of deleted files")
        parser.add_argument("--uploads", action="store_true", help="also uploads no render or template uses")
        parser.add_argument("--no-outputs", action="store_true", help="leave rendered outputs alone")
        parser.add_argument("--dry-run", action="store_true", help="list what would be freed, delete nothing")

    def handle(self, *args, **opts):
        try:
            days = parse_age(opts["older_than"]) if opts["older_than"] else None
        except ValueError as err:
            raise CommandError(str(err)) from None
        user_id = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user named {opts['user']!r}.")
            user_id = user.pk
        scope = Scope(days, opts["project"], user_id, outputs=not opts["no_outputs"], leftovers=opts["leftovers"],
                      caches=opts["caches"], uploads=opts["uploads"])
        items = plan(scope) if opts["dry_run"] else execute(scope)
        for item in items:
            self.stdout.write(f"{item.kind:9} {filesizeformat(item.size):>10}  {item.label}")
        verb = "Would free" if opts["dry_run"] else "Freed"
        self.stdout.write(f"{verb} {filesizeformat(sum(i.size for i in items))} in {len(items)} item(s).")
