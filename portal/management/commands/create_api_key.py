from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.services import api_key_create


class Command(BaseCommand):
    help = "Create an integration API key and print it (alone, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--read-handoffs",
            action="store_true",
            help="Also allow reading handoffs and the live event stream.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key, raw = api_key_create(name=options["name"], can_read_handoffs=options["read_handoffs"])
        self.stderr.write(f"Created API key {key.name!r} ({key.prefix}). Store it now:")
        self.stdout.write(raw)
