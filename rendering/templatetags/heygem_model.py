"""Template facts about the installed lip-sync model (no torch: the web process stays light)."""

from django import template

from rendering.engine import test_model_installed as _test_model_installed

register = template.Library()


@register.simple_tag
def test_model_installed() -> bool:
    """The random test checkpoint is the installed model: every page says so."""
    return _test_model_installed()
