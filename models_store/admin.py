from django.contrib import admin

from models_store.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "source", "tokenizer", "vocab_size", "tokens", "created_at")
    list_filter = ("status", "tokenizer")
    search_fields = ("name", "source")
    readonly_fields = ("created_at", "updated_at", "finished_at", "manifest", "tokenizer_json")
