"""`/batches/<id>/status/`: every item's state in the live events' shape,
which the batch page applies on each (re)connect of its socket."""

import pytest
from django.urls import reverse

from rendering.models import Render, Stage, Status
from tests.rendering.helpers import start_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(alice, project, audio, video):
    return start_batch(alice, project, audio, [video, video])


def test_it_gives_every_item_in_the_event_shape(alice_client, batch):
    first, second = batch.renders.order_by("position")
    Render.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED, progress=1.0)
    Render.objects.filter(pk=second.pk).update(
        status=Status.RUNNING, stage=Stage.INFER, frames_done=10, frames_total=40, progress=0.4
    )
    response = alice_client.get(reverse("rendering:batch_status", args=[batch.pk]))
    assert response.status_code == 200
    events = response.json()["renders"]
    assert [(e["render"], e["status"]) for e in events] == [(first.pk, "succeeded"), (second.pk, "running")]
    assert events[1] | {"eta_s": None, "fps": None} == {
        "type": "render.progress", "batch": batch.pk, "render": second.pk, "status": "running", "stage": "infer",
        "done": 10, "total": 40, "progress": 0.4, "fps": None, "eta_s": None, "message": "",
    }


def test_other_members_get_404(bob_client, batch):
    assert bob_client.get(reverse("rendering:batch_status", args=[batch.pk])).status_code == 404


def test_the_batch_page_points_its_script_at_it(alice_client, batch):
    html = alice_client.get(batch.get_absolute_url()).content.decode()
    assert f'data-status-url="/batches/{batch.pk}/status/"' in html
