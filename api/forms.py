from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import WebhookEndpoint
from api.ssrf import UnsafeURL, check_url
from projects.forms import NameField


class TokenForm(forms.Form):
    name = NameField(label=_("What is it for?"), max_length=100,
                     help_text=_("For example “LMS” or “nightly upload script”."))
    read_only = forms.BooleanField(label=_("Read-only (may look, may not upload or start anything)"), required=False)
    expires_in_days = forms.TypedChoiceField(
        label=_("Expires"), coerce=int, empty_value=0, required=False,
        choices=[("", _("Never")), (30, _("In 30 days")), (90, _("In 90 days")), (365, _("In a year"))],
    )


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("Where HeyGem posts the events, signed with this endpoint's secret."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=WebhookEndpoint.Event.choices,
                                       widget=forms.CheckboxSelectMultiple, initial=WebhookEndpoint.Event.values)
    allow_private = forms.BooleanField(
        label=_("May reach loopback and private addresses (staff only)"), required=False,
        help_text=_("Only for a receiver on this server's own network that you trust."),
    )

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff = staff
        if not staff:
            del self.fields["allow_private"]

    def clean(self):
        data = super().clean()
        if data.get("url"):
            try:
                check_url(data["url"], allow_private=self.staff and data.get("allow_private", False))
            except UnsafeURL as error:
                self.add_error("url", error.message)
        return data
