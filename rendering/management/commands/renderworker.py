"""A long-lived rq worker for HeyGem queues: `gpu` (every member's GPU queue,
served fairly: rendering/queues.py) and `default`."""

from django.core.management.base import BaseCommand

from rendering.worker import run_worker


class Command(BaseCommand):
    help = "Run a HeyGem worker (one per GPU: set CUDA_VISIBLE_DEVICES for each)."

    def add_arguments(self, parser):
        parser.add_argument("--queues", nargs="+", default=["gpu", "default"])
        parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
        parser.add_argument("--name", default=None)

    def handle(self, *args, queues, burst, name, **options):
        run_worker(queues, burst=burst, name=name)
