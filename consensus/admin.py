from django.contrib import admin

from consensus.models import Decision, Proposal, Round, Vote


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("session", "index", "status", "deadline", "created_at")
    list_filter = ("status",)


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ("round", "node_id", "outcome", "norm", "samples", "loss")
    list_filter = ("outcome",)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("proposal", "voter", "approve", "reason", "created_at")
    list_filter = ("approve",)


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("round", "committed", "model_hash", "decided_by", "created_at")
    list_filter = ("committed",)
