from django.contrib import admin

from nodes.models import Node


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "address", "model_hash", "last_seen", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "address")
    readonly_fields = ("id", "created_at", "updated_at")
