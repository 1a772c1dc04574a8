"""The account pages for the API: personal tokens and webhook endpoints."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import TokenForm, WebhookForm
from api.models import ApiToken, WebhookDelivery, WebhookEndpoint

SHOWN_DELIVERIES = 20


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        _token, new_token = ApiToken.issue(
            request.user, form.cleaned_data["name"], read_only=form.cleaned_data["read_only"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        form = TokenForm()  # the secret is on this answer only: no redirect, nothing in the session
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": ApiToken.objects.filter(user=request.user),
        # Staff can revoke anyone's token.
        "others": ApiToken.objects.usable().exclude(user=request.user).select_related("user")
        if request.user.is_staff else None,
    }
    response = render(request, "api/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    visible = ApiToken.objects.all() if request.user.is_staff else ApiToken.objects.filter(user=request.user)
    token = get_object_or_404(visible, pk=pk)
    token.revoke()
    messages.success(request, _("Token “%(name)s” revoked: it no longer works.") % {"name": token.name})
    return redirect("api_tokens")


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None, staff=request.user.is_staff)
    if request.method == "POST" and form.is_valid():
        WebhookEndpoint.objects.create(
            user=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"],
            secret=WebhookEndpoint.new_secret(), allow_private=form.cleaned_data.get("allow_private", False),
        )
        messages.success(request, _("Webhook endpoint added."))
        return redirect("api_webhooks")
    # Endpoints given in batch requests too (their deliveries can be re-sent as well), newest first.
    endpoints = list(WebhookEndpoint.objects.filter(user=request.user).select_related("batch")[:50])
    for endpoint in endpoints:
        endpoint.recent = endpoint.deliveries.all()[:SHOWN_DELIVERIES]
    return render(request, "api/webhooks.html", {"form": form, "endpoints": endpoints})


@login_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects.filter(user=request.user), pk=pk)
    endpoint.delete()
    messages.success(request, _("Webhook endpoint removed."))
    return redirect("api_webhooks")


@login_required
@require_POST
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery.objects.filter(endpoint__user=request.user), pk=pk)
    from api.webhooks import resend

    resend(delivery)
    messages.success(request, _("The event will be sent again."))
    return redirect("api_webhooks")
