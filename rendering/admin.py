from django.contrib import admin

from rendering.models import Render, RenderBatch


class RenderInline(admin.TabularInline):
    model = Render
    extra = 0
    fields = ["source", "status", "stage", "progress", "worker_name", "finished_at"]
    readonly_fields = fields


@admin.register(RenderBatch)
class RenderBatchAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "project", "created_at"]
    search_fields = ["name", "owner__username"]
    inlines = [RenderInline]


@admin.register(Render)
class RenderAdmin(admin.ModelAdmin):
    list_display = ["pk", "batch", "source", "status", "stage", "worker_name", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["manifest", "timings", "log", "internal_log", "job_id"]
