"""The settings every entry point builds: the core settings and each channel's section.

A channel with settings declares its section in its package (a
:class:`~govpub.settings.SettingsSection` with its own ``GOVPUB_<NAME>_`` prefix, so the
variables keep their names) and adds it here; it reads it with
``context.section(TheSection)``. The composition lives in ``channels/`` so that adding a
platform touches nothing outside it.
"""

from pydantic import Field

from channels.newmedia.settings import NewMediaSettings
from channels.newmedia.webhook.settings import WebhookSettings
from channels.newmedia.wechat.settings import WeChatSettings
from channels.newmedia.weibo.settings import WeiboSettings
from channels.rss.settings import RssSettings
from govpub.settings import Settings, load_settings


class AppSettings(Settings):
    """:class:`~govpub.settings.Settings` with every channel's section."""

    rss: RssSettings = Field(default_factory=RssSettings)
    newmedia: NewMediaSettings = Field(default_factory=NewMediaSettings)
    wechat: WeChatSettings = Field(default_factory=WeChatSettings)
    weibo: WeiboSettings = Field(default_factory=WeiboSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)


def load_app_settings(**overrides: object) -> AppSettings:
    """Build :class:`AppSettings` from the environment; an error names the variable."""
    return load_settings(AppSettings, **overrides)
