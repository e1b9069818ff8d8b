"""The internal tables of the store: accounts, sessions, API tokens, login throttle, access log,
watch areas and their digests.

Declared like every layer (the store builds them from these declarations) but never served,
exported or redacted for a role (``internal=True``); :mod:`layers.catalog` lists them after the
layers the map, the API and exports read.
"""

from __future__ import annotations

from layers.layer_types import Layer
from layers.layer_types import plain_field as _f

INTERNAL_LAYERS: tuple[Layer, ...] = (
    # accounts and what they did
    Layer(
        "users", "User accounts", None,
        (
            _f("username", "text", "Login name."),
            _f("email", "text", "E-mail address, when given."),
            _f("role", "text", "viewer, planner, analyst, ngo or admin."),
            _f("password_hash", "text", "Argon2id hash of the password (PHC string)."),
            _f("disabled", "boolean", "True when the account may not log in."),
            _f("created", "datetime", "When the account was added, UTC."),
            _f("updated", "datetime", "Last change of role, password or state, UTC."),
            _f("last_login", "datetime", "Last successful login, UTC."),
        ),
        key=("username",), on_map=False, internal=True,
    ),
    Layer(
        "sessions", "Login sessions", None,
        (
            _f("session_hash", "text", "SHA-256 of the session token (the token itself is only in the browser's cookie)."),
            _f("username", "text", "Whose session."),
            _f("created", "datetime", "Login time, UTC."),
            _f("expires", "datetime", "End of the session, UTC."),
            _f("address", "text", "Client address at login."),
        ),
        key=("session_hash",), on_map=False, internal=True,
    ),
    Layer(
        "api_tokens", "API tokens", None,
        (
            _f("name", "text", "Name of the token (who or what uses it)."),
            _f("token_id", "text", "Public part of the token, by which a request's token is found (shown by `tokens list`)."),
            _f("token_hash", "text", "SHA-256 of the whole token (the token itself is shown once, when made)."),
            _f("role", "text", "Role the token reads as: viewer, planner, analyst, ngo or admin."),
            _f("created", "datetime", "When the token was made, UTC."),
            _f("expires", "datetime", "When it stops working, UTC; empty: never."),
            _f("revoked", "datetime", "When it was revoked, UTC; empty: not revoked."),
            _f("last_used", "datetime", "Last request made with it, UTC."),
        ),
        key=("name",), on_map=False, internal=True, indexes=(("token_id",),),
    ),
    Layer(
        "login_throttle", "Failed logins per account and address", None,
        (
            _f("scope", "text", "account or address."),
            _f("subject", "text", "The login name or client address."),
            _f("failures", "json", "Times (UTC, ISO 8601) of the wrong passwords within the throttle window."),
        ),
        key=("scope", "subject"), on_map=False, internal=True,
    ),
    Layer(
        "access_log", "Access log", None,
        (
            _f("event_id", "text", "Event id."),
            _f("time", "datetime", "When, UTC."),
            _f("event", "text", "login, login_failed, login_throttled, logout, refused or export."),
            _f("username", "text", "Account (or login name tried); empty when anonymous."),
            _f("role", "text", "Role of the account at the time."),
            _f("address", "text", "Client address."),
            _f("method", "text", "HTTP method, or cli."),
            _f("path", "text", "Path requested, or the command."),
            _f("status", "integer", "HTTP status answered."),
            _f("detail", "text", "What was exported, refused or why."),
        ),
        key=("event_id",), on_map=False, internal=True,
    ),
    # watch areas and their digests (layers/watch_areas.py, jobs/notify.py): internal tables too
    Layer(
        "watch_areas", "Watch areas", "MULTIPOLYGON",
        (
            _f("watch_id", "text", "Watch area id."),
            _f("owner", "text", "Account that saved it."),
            _f("name", "text", "Name the owner gave it."),
            _f("origin", "text", "drawn, uploaded, protected_area, concession, corridor_segment or border_crossing."),
            _f("origin_ref", "text", "What was picked (its layer's key) or the uploaded file's name."),
            _f("radius_km", "real", "Radius around a picked line or point, km."),
            _f("created", "datetime", "When it was saved, UTC."),
        ),
        key=("watch_id",), on_map=False, internal=True, indexes=(("owner",),),
    ),
    Layer(
        "subscriptions", "Digest subscriptions", None,
        (
            _f("subscription_id", "text", "Subscription id (also in its unsubscribe token)."),
            _f("watch_id", "text", "The watch area."),
            _f("owner", "text", "Account it belongs to: digests show what this account's role may see."),
            _f("filters", "json", "min_risk, confidence, flags, commodity (timber / wildlife of linked seizures)."),
            _f("frequency", "text", "after_run, daily or weekly."),
            _f("email", "boolean", "Send digests to the owner's e-mail address."),
            _f("webhook_url", "text", "POST digests here, signed with HMAC-SHA256 (empty: no webhook)."),
            _f("key_version", "integer", "Version of the webhook key (a new key: a new version)."),
            _f("created", "datetime", "When it was made, UTC."),
            _f("last_digest", "datetime", "When the last digest was made, UTC (empty: never)."),
            _f("unsubscribed", "datetime", "When it was stopped, UTC (empty: active)."),
        ),
        key=("subscription_id",), on_map=False, internal=True, indexes=(("owner",), ("watch_id",)),
    ),
    Layer(
        "outbox", "Digests to deliver", None,
        (
            _f("digest_id", "text", "Stable id of the digest (Message-ID and X-Ecowatch-Digest-Id)."),
            _f("channel", "text", "email or webhook."),
            _f("subscription_id", "text", "The subscription."),
            _f("created", "datetime", "When the digest was made, UTC."),
            _f("clearing_ids", "json", "The clearings the digest holds."),
            _f("payload", "json", "The digest as delivered (what the owner's role may see)."),
            _f("status", "text", "pending, sent or failed."),
            _f("attempts", "integer", "Delivery attempts so far."),
            _f("sent", "datetime", "When it was delivered, UTC."),
            _f("last_error", "text", "Why the last attempt failed."),
        ),
        key=("digest_id", "channel"), on_map=False, internal=True, indexes=(("status",), ("subscription_id",)),
    ),
    Layer(
        "digests_sent", "Digest deliveries", None,
        (
            _f("delivery_id", "text", "Id of the delivery."),
            _f("digest_id", "text", "The digest delivered."),
            _f("channel", "text", "email or webhook."),
            _f("subscription_id", "text", "The subscription."),
            _f("sent", "datetime", "When the server accepted it, UTC."),
            _f("detail", "text", "Recipient or webhook host, and the answer."),
        ),
        key=("delivery_id",), on_map=False, internal=True, append_only=True, indexes=(("digest_id",),),
    ),
)
