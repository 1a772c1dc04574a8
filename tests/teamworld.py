"""A project shared four ways, for the team tests: alice owns it, bob is its
editor, charlie its viewer, dave an outsider (the people are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile

from projects.models import Asset, Member, Project, Role, Template, default_render_settings
from rendering.models import Render, RenderBatch, Status


def _asset(project, kind: str, name: str, content: bytes, poster: bool = False) -> Asset:
    """An asset row with a small stored file: these tests are about who may
    reach it, not about probing (tests/test_uploads.py)."""
    asset = Asset(project=project, kind=kind, original_name=name, extension="." + name.rsplit(".", 1)[1],
                  sha256=f"{hash((kind, name)) & 0xFFFFFFFF:064x}", size=len(content))
    asset.file.save(name, ContentFile(content), save=False)
    if poster:
        asset.poster.save("p.jpg", ContentFile(b"\xff\xd8jpeg"), save=False)
    asset.save()
    return asset


@dataclass
class World:
    project: Project
    audio: Asset
    video: Asset
    template: Template
    batch: RenderBatch
    done: Render
    failed: Render
    running_batch: RenderBatch
    running: Render


def build_world(alice, bob, charlie) -> World:
    project = Project.objects.create(owner=alice, name="Physics 101")
    Member.objects.create(project=project, user=bob, role=Role.EDITOR)
    Member.objects.create(project=project, user=charlie, role=Role.VIEWER)
    audio = _asset(project, Asset.Kind.AUDIO, "voice.wav", b"RIFF-audio")
    video = _asset(project, Asset.Kind.VIDEO, "presenter.mp4", b"video-bytes", poster=True)
    template = Template.objects.create(project=project, name="Studio", avatar=video, settings=default_render_settings())
    batch = RenderBatch.objects.create(owner=alice, project=project, name="Week 1", audio=audio)
    done = Render.objects.create(batch=batch, position=0, source=video, status=Status.SUCCEEDED, log="frames: 25")
    done.output.save("out.mp4", ContentFile(b"rendered-output"), save=False)
    done.output_size = 15
    done.save()
    failed = Render.objects.create(batch=batch, position=1, source=video, template=template, status=Status.FAILED)
    running_batch = RenderBatch.objects.create(owner=alice, project=project, name="Week 2", audio=audio)
    running = Render.objects.create(batch=running_batch, source=video, status=Status.RUNNING)
    return World(project, audio, video, template, batch, done, failed, running_batch, running)
