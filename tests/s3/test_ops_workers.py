"""/ops/ lists every worker on every machine: its machine, device, the render
it is on and its last heartbeat; a worker is named after host and device."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from rendering import heartbeat, queues
from rendering.worker import default_name
from tests.rendering.helpers import start_batch

pytestmark = pytest.mark.django_db


def test_ops_shows_each_worker_s_machine_device_and_current_render(staff_client, alice_client, alice, project,
                                                                 audio, video):
    render = start_batch(alice, project, audio, [video]).renders.get()
    conn = queues.connection()
    heartbeat.beat(conn, "gpu-box-2.cuda1.4242", {"host": "gpu-box-2", "pid": 4242, "device": "cuda:1 NVIDIA L4",
                                                  "queues": "gpu", "model_loaded": "1", "model": "wav2lip_gan",
                                                  "current_job": render.job_id, "render": str(render.pk)})
    heartbeat.beat(conn, "gpu-box-3.cuda0.77", {"host": "gpu-box-3", "pid": 77, "device": "cuda:0 NVIDIA L4",
                                                "queues": "gpu", "model_loaded": "0", "current_job": "", "render": ""})
    try:
        html = staff_client.get(reverse("ops:dashboard")).content.decode()
        assert alice_client.get(reverse("ops:dashboard")).status_code == 404
    finally:
        heartbeat.stop(conn, "gpu-box-2.cuda1.4242")
        heartbeat.stop(conn, "gpu-box-3.cuda0.77")
    busy = html[html.index('data-worker="gpu-box-2.cuda1.4242"'):]
    busy = busy[: busy.index("</tr>")]
    assert "<td>gpu-box-2</td>" in busy and "cuda:1 NVIDIA L4" in busy
    assert f'data-render="{render.pk}"' in busy and render.get_absolute_url() in busy
    assert "s ago" in busy
    idle = html[html.index('data-worker="gpu-box-3.cuda0.77"'):]
    assert 'data-render=""' in idle[: idle.index("</tr>")]


def test_a_worker_is_named_after_its_host_and_device(monkeypatch):
    host = socket.gethostname()
    assert default_name("cuda:1").startswith(f"{host}.cuda1.")
    assert default_name("cpu").startswith(f"{host}.cpu.")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    assert default_name(None).startswith(f"{host}.gpu2.")


def test_renderworker_refuses_a_device_it_cannot_read():
    with pytest.raises(CommandError, match="cuda:N"):
        call_command("renderworker", "--device", "gpu1", "--burst")


def test_renderworker_refuses_a_gpu_this_machine_does_not_have():
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(CommandError, match=f"this machine has {count} usable CUDA device"):
        call_command("renderworker", "--device", f"cuda:{count}", "--burst")
