from django.core.management.base import BaseCommand

from rendering.services import reconcile


class Command(BaseCommand):
    help = "Fix renders whose worker died or whose queued job was lost (also run by every worker)."

    def handle(self, *args, **options):
        counts = reconcile()
        self.stdout.write(f"failed: {counts['failed']}, queued again: {counts['requeued']}")
