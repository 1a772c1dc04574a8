from django.urls import path

from api import pages

urlpatterns = [
    path("tokens/", pages.tokens, name="api_tokens"),
    path("tokens/<int:pk>/revoke/", pages.revoke_token, name="api_token_revoke"),
    path("webhooks/", pages.webhook_list, name="api_webhooks"),
    path("webhooks/<int:pk>/delete/", pages.webhook_delete, name="api_webhook_delete"),
    path("webhooks/deliveries/<int:pk>/resend/", pages.delivery_resend, name="api_delivery_resend"),
]
