from django.apps import AppConfig


class HeyGemSiteConfig(AppConfig):
    name = "heygem_site"
    verbose_name = "HeyGem"
