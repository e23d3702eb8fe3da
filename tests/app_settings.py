"""Settings for tests: :class:`AppSettings` built from keyword values, a channel
section's fields named as their variables (so tests keep the names operators use)."""

from typing import Any

from channels.settings import AppSettings
from govpub.settings import SettingsSection


def app_settings(**values: Any) -> AppSettings:
    """:class:`AppSettings` from its fields; a channel section's field is named as its
    variable without ``GOVPUB_`` (``wechat_app_secrets={...}``, ``newmedia_timeout=2``)."""
    for name, field in AppSettings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, SettingsSection):
            prefix = str(kind.model_config.get("env_prefix", "")).removeprefix("GOVPUB_").lower()
            own = {
                key: values.pop(prefix + key) for key in kind.model_fields if prefix + key in values
            }
            if own:
                values[name] = kind(**own)
    return AppSettings(_env_file=None, **values)
