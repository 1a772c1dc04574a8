"""Quotas per member: items per batch, queued + running items, storage.

One function per moment a member asks for more: `check_new_renders` before
a batch (or a retry, or a re-run) is queued, `check_upload` before an upload
is stored. Each raises QuotaExceeded with a sentence for the member; nothing
is queued or stored then. Limits come from settings (HEYGEM_MAX_BATCH_ITEMS,
HEYGEM_MAX_ACTIVE_ITEMS, HEYGEM_STORAGE_QUOTA_MB; 0 = no storage quota).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from projects.models import Asset
from rendering.models import HAS_OUTPUT, Render

MB = 1024 * 1024


class QuotaExceeded(Exception):
    """A member asked for more than their quota allows; `message` says which, for them."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def active_items(user) -> int:
    """What counts against HEYGEM_MAX_ACTIVE_ITEMS."""
    return Render.objects.active_of(user).count()


def storage_used(user) -> int:
    """Bytes of this member's uploads and posters (in projects they own) and of
    the outputs of batches they started."""
    assets = Asset.objects.filter(project__owner=user)
    uploads = assets.aggregate(total=Sum("size"))["total"] or 0
    outputs = Render.objects.filter(HAS_OUTPUT, batch__owner=user).aggregate(total=Sum("output_size"))["total"] or 0
    return uploads + _poster_bytes(assets) + outputs


def _poster_bytes(assets) -> int:
    # Posters are small JPEGs whose size is not in the database: ask the storage.
    storage = Asset._meta.get_field("poster").storage
    total = 0
    for name in assets.exclude(poster="").values_list("poster", flat=True):
        try:
            total += storage.size(name)
        except OSError:  # deleted behind our back: it takes no space
            pass
    return total


def check_new_renders(user, count: int) -> None:
    """May this member queue `count` more items (one batch, a retry, a re-run)?"""
    limit = settings.HEYGEM_MAX_BATCH_ITEMS
    if count > limit:
        raise QuotaExceeded(
            _("A batch can hold at most %(limit)d items; this one has %(count)d. Split it into smaller batches.")
            % {"limit": limit, "count": count}
        )
    limit = settings.HEYGEM_MAX_ACTIVE_ITEMS
    active = active_items(user)
    if active + count > limit:
        raise QuotaExceeded(
            _(
                "You already have %(active)d items queued or running, and each member may have at most %(limit)d: "
                "these %(count)d would be too many. Start them when some have finished, or cancel some."
            )
            % {"active": active, "limit": limit, "count": count}
        )
    quota = settings.HEYGEM_STORAGE_QUOTA_MB * MB
    if quota:
        used = storage_used(user)
        if used >= quota:
            raise QuotaExceeded(
                _(
                    "Your files take %(used)s of your %(quota)s storage quota. Delete outputs or uploads you no "
                    "longer need before starting new renders."
                )
                % {"used": filesizeformat(used), "quota": filesizeformat(quota)}
            )


def check_upload(owner, name: str, size: int) -> None:
    """May a file of `size` bytes be stored in a project of `owner`?"""
    quota = settings.HEYGEM_STORAGE_QUOTA_MB * MB
    if not quota:
        return
    used = storage_used(owner)
    if used + size > quota:
        raise QuotaExceeded(
            _(
                "%(name)s (%(size)s) does not fit in the storage quota of %(quota)s: %(used)s is used already. "
                "Delete outputs or uploads that are no longer needed."
            )
            % {"name": name, "size": filesizeformat(size), "quota": filesizeformat(quota),
               "used": filesizeformat(used)}
        )
