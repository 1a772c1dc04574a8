from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from projects.models import Project
from rendering.cleanup import Scope


class CleanupForm(forms.Form):
    older_than_days = forms.IntegerField(label=_("Older than (days)"), min_value=0, required=False, initial=30)
    project = forms.ModelChoiceField(label=_("Only this project"), queryset=Project.objects.select_related("owner"),
                                     required=False)
    user = forms.ModelChoiceField(label=_("Only this user"), queryset=get_user_model().objects.order_by("username"),
                                  required=False)
    outputs = forms.BooleanField(label=_("Rendered outputs"), required=False, initial=True)
    leftovers = forms.BooleanField(label=_("Leftovers of failed or killed renders"), required=False)
    caches = forms.BooleanField(label=_("Unused caches"), required=False)
    uploads = forms.BooleanField(label=_("Uploads no render or template uses"), required=False)

    def scope(self) -> Scope:
        data = self.cleaned_data
        return Scope(
            older_than_days=data["older_than_days"] or None,
            project_id=data["project"].pk if data["project"] else None,
            user_id=data["user"].pk if data["user"] else None,
            outputs=data["outputs"],
            leftovers=data["leftovers"],
            caches=data["caches"],
            uploads=data["uploads"],
        )
