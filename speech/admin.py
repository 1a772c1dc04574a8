from django.contrib import admin

from speech.models import Speech


@admin.register(Speech)
class SpeechAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "owner", "voice", "status", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["project", "owner", "asset"]
