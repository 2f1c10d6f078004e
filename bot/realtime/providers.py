"""Provider profiles as the realtime layer uses them: the endpoint, the accepted settings, the
path a turn takes. The profiles themselves (URL, auth, rates, voices, prices, quotas...) are the
plain data of ``bot.provider_profiles``; nothing here is particular to one provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import Settings
from bot.domain import ProviderTraits
from bot.errors import ConfigError
from bot.provider_profiles import PROFILES, Profile

__all__ = [
    "PROFILES",
    "Endpoint",
    "LivePath",
    "Profile",
    "endpoint_from_settings",
    "live_path",
    "place_voice_options",
    "profile_for",
]


@dataclass(frozen=True)
class LivePath:
    """How turns are asked of a provider, given what a probe found of its live service."""

    history_form: str  # "items" or "quoted"
    await_transcript: float  # seconds; 0: response.create right after the commit


def live_path(profile: Profile, traits: ProviderTraits | None) -> LivePath:
    """The path that works against what the probe found, or, where nothing was found, the one
    that works whichever way the service behaves."""
    found = traits or ProviderTraits()
    if found.assistant_items is None:
        history_form = profile.history_form
    else:
        history_form = "items" if found.assistant_items else "quoted"
    if found.create_after_commit is None:
        wait = profile.transcript_wait
    else:
        wait = 0.0 if found.create_after_commit else max(profile.transcript_wait, 3.0)
    return LivePath(history_form=history_form, await_transcript=wait)


def profile_for(settings: Settings) -> Profile:
    """The configured provider's profile; raises ConfigError naming the variable when a setting
    asks for something the provider does not accept."""
    profile = PROFILES[settings.realtime_provider]
    rate = settings.output_sample_rate
    if rate is not None and rate not in profile.output_rates:
        accepted = ", ".join(map(str, profile.output_rates))
        raise ConfigError(
            f"OUTPUT_SAMPLE_RATE: {profile.name} accepts {accepted} (got {rate}); "
            "leave it empty for the provider's default"
        )
    if settings.turn_detection not in profile.turn_detections:
        raise ConfigError(
            f"TURN_DETECTION: {profile.name} accepts {', '.join(profile.turn_detections)}"
        )
    return profile


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect. ``headers`` carry the secret: never log them."""

    url: str
    headers: dict[str, str] = field(repr=False)
    provider: str = "yandex"

    def __repr__(self) -> str:  # the URL holds no secret; the headers do
        return f"Endpoint(url={self.url!r}, provider={self.provider!r})"


def endpoint_from_settings(settings: Settings) -> Endpoint:
    """The endpoint of the configured provider: its URL template filled in from the settings
    (``REALTIME_URL`` replaces it), and the first of its auth schemes whose secret is set."""
    settings.require_realtime()
    profile = PROFILES[settings.realtime_provider]
    url = settings.realtime_url or profile.url_for(
        {name: str(getattr(settings, name)) for name in profile.url_fields}
    )
    for auth in profile.auth:
        secret = getattr(settings, auth.setting)
        if secret is not None:
            headers = auth.headers(secret.get_secret_value())
            return Endpoint(url=url, headers=headers, provider=profile.name)
    raise AssertionError("require_realtime checked that a secret is set")  # pragma: no cover


def place_voice_options(
    profile: Profile, voice: str, options: Mapping[str, object]
) -> dict[str, object]:
    """The chat's voice options (by their key: role, speed, language) at the paths of
    ``session.update``'s ``session`` where ``profile`` takes them, in the form it takes: nothing
    the provider does not take (a speed the bot makes itself, a role where roles are not sent),
    no role ``voice`` lacks, no speed of 1 (the provider's own), no language for "auto"."""
    placed: dict[str, object] = {}
    for name, value in options.items():
        where = profile.session_fields.get(name)
        if where is None:
            continue
        if name == "role" and value not in profile.roles(voice):
            continue
        if name == "speed" and value == 1.0:
            continue
        if name == "language" and value == "auto":
            continue
        placed[where.path] = where.value(value)
    return placed
