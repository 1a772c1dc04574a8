from django.contrib import admin

from projects.models import Asset, Project, Template


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "archived", "last_activity_at"]
    list_filter = ["archived"]
    search_fields = ["name", "owner__username"]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["original_name", "kind", "project", "size", "duration", "created_at"]
    list_filter = ["kind"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "file", "poster"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "avatar", "updated_at"]
