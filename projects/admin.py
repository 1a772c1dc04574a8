from django.contrib import admin

from projects.models import Activity, Asset, Member, Project, Template


class MemberInline(admin.TabularInline):
    """Shown, not edited here: the share page and `share_project` write the
    activity list and close removed members' sockets."""

    model = Member
    extra = 0
    fields = readonly_fields = ["user", "role", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "archived", "is_library", "last_activity_at"]
    list_filter = ["archived", "is_library"]
    search_fields = ["name", "owner__username"]
    inlines = [MemberInline]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "actor_name", "verb", "target"]
    list_filter = ["verb"]
    search_fields = ["actor_name", "target", "project__name"]
    readonly_fields = ["project", "actor", "actor_name", "verb", "target", "created_at"]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["original_name", "kind", "project", "size", "duration", "created_at"]
    list_filter = ["kind"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "file", "poster"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "avatar", "updated_at"]
