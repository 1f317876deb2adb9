import pytest
from django.core.management import call_command

from owners.models import Owner
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_demo_data_is_created_once_and_rerunning_is_safe(settings, tmp_path, capsys):
    settings.LOCAL_DIR = tmp_path
    call_command("load_demo")
    first = capsys.readouterr().out
    call_command("load_demo")
    second = capsys.readouterr().out
    demo = Owner.objects.get(username="demo")
    names = sorted(Twin.objects.filter(owner=demo).values_list("name", flat=True))
    assert names == ["Bessie", "Coffee grinder", "Glucose meter"]
    meter = Twin.objects.get(owner=demo, name="Glucose meter")
    assert meter.readings.count() == 56
    assert meter.readings.earliest("time").time < meter.readings.latest("time").time
    password = (tmp_path / "demo_password").read_text().strip()
    assert password in first and password in second
    assert demo.check_password(password)
