"""Demo data: the owner `demo` with a coffee grinder, a glucose meter (two weeks of readings) and Bessie the cow.

Safe to run again: it creates what is missing and leaves the rest alone. The password is generated once,
kept in the git-ignored local folder and printed every time.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from owners.models import Owner
from twins import services
from twins.demo import demo_steps
from twins.models import Reading, Twin

DEMO_THINGS = [
    {
        "name": "Coffee grinder",
        "icon": "coffee",
        "model_name": "Baratza Encore",
        "serial": "BE-2291-0417",
        "reading_kind": "grind",
        "reading_unit": "setting",
        "attributes": {"burrs": "conical, 40 mm", "bought": "2023-11-02"},
        "show_description": True,
        "description": "Lives in the kitchen. Descale monthly.",
    },
    {
        "name": "Glucose meter",
        "icon": "health",
        "model_name": "Accu-Chek Guide",
        "serial": "GM-77310",
        "reading_kind": "glucose",
        "reading_unit": "mg/dL",
        "attributes": {"strips": "Guide test strips"},
    },
    {
        "name": "Bessie",
        "icon": "animal",
        "model_name": "Holstein cow",
        "serial": "EU ear tag DE 0123 4567 89",
        "reading_kind": "weight",
        "reading_unit": "kg",
        "attributes": {"born": "2021-04-12", "herd": "North pasture"},
        "show_description": True,
        "description": "Friendly. If you find her, please call; she likes apples.",
    },
]


class Command(BaseCommand):
    help = "Create the demo owner and things (idempotent) and print the demo password."

    def handle(self, *args, **options) -> None:
        password_file = settings.LOCAL_DIR / "demo_password"
        settings.LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(12))
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        with transaction.atomic():
            owner, created = Owner.objects.get_or_create(username="demo", defaults={"email": "demo@example.org"})
            if created or not owner.check_password(password):
                owner.set_password(password)
                owner.contact_name = "Demo Owner"
                owner.contact_message = "Thanks for finding this! Please send me a message."
                owner.show_message = True
                owner.save()
            for spec in DEMO_THINGS:
                self._thing(owner, dict(spec))
        self.stdout.write(self.style.SUCCESS(f"Demo owner: demo   password: {password}"))

    def _thing(self, owner: Owner, spec: dict) -> Twin:
        existing = Twin.objects.filter(owner=owner, name=spec["name"]).first()
        if existing is not None:
            return existing
        show_description = spec.pop("show_description", False)
        twin = services.twin_create(owner=owner, **spec)
        services.twin_update(twin=twin, show_description=show_description)
        for step in demo_steps():  # the features' part: a tag sticker, ...
            step(twin)
        now = timezone.now()
        if twin.reading_kind == "glucose":
            # Two weeks, four readings a day: fasting, after meals.
            for day in range(14):
                for slot, hour in enumerate((7, 12, 18, 22)):
                    time = (now - timedelta(days=14 - day)).replace(hour=hour, minute=5 * slot, second=0, microsecond=0)
                    value = 105 + 25 * math.sin(day / 2 + slot) + (slot * 8)
                    services.reading_add(twin=twin, value=round(value), time=time, source=Reading.Source.DEMO)
            services.note_create(
                twin=twin, title="New strips", text="Opened a new box of 50.", time=now - timedelta(days=3)
            )
        elif twin.reading_kind == "weight":
            for week in range(8):
                services.reading_add(
                    twin=twin, value=560 + week * 3.5, time=now - timedelta(weeks=8 - week), source=Reading.Source.DEMO
                )
            services.note_create(
                twin=twin, title="Vet visit", text="Vaccinations up to date.", time=now - timedelta(days=20)
            )
        else:
            services.reading_add(twin=twin, value=14, time=now - timedelta(days=1), source=Reading.Source.DEMO)
            services.note_create(twin=twin, title="Cleaned the burrs", time=now - timedelta(days=10))
        return twin
