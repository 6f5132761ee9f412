"""Discord's REST API (v10) routes that discord.py calls, served with aiohttp.

Every request under ``/api/v10`` is recorded, checked for the bot token (except the
interaction and webhook routes, which authenticate by their token, as on Discord), and
answered with the rate-limit headers discord.py reads. Unknown routes get Discord's
``{"message": "404: Not Found", "code": 0}`` and are logged and kept in ``unhandled``.
Errors use Discord's JSON codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_request import FileField

from .limits import (
    EPHEMERAL,
    LOADING,
    FormErrors,
    is_empty_message,
    validate_commands,
    validate_message,
)
from .payloads import JSON, Permission
from .records import RecordedMessage, RecordedRequest, RejectedRequest, StandInInteraction

if TYPE_CHECKING:
    from .server import DiscordStandIn

log = logging.getLogger("discord_standin.rest")

API_PREFIX = "/api/v10"
RATE_LIMIT = 50
RATE_LIMIT_WINDOW = 1.0

UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}
UNKNOWN_APPLICATION = {"message": "Unknown Application", "code": 10002}
UNKNOWN_CHANNEL = {"message": "Unknown Channel", "code": 10003}
UNKNOWN_GUILD = {"message": "Unknown Guild", "code": 10004}
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}
INVALID_WEBHOOK_TOKEN = {"message": "Invalid Webhook Token", "code": 50027}
UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}
ALREADY_ACKNOWLEDGED = {"message": "Interaction has already been acknowledged.", "code": 40060}
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}
CANNOT_EDIT_OTHERS = {"message": "Cannot edit a message authored by another user", "code": 50005}
EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}
MISSING_PERMISSIONS = {"message": "Missing Permissions", "code": 50013}
INVALID_JSON = {"message": "The request body contains invalid JSON.", "code": 50109}

# Routes that authenticate with the interaction/webhook token in the path, not the bot token.
TOKEN_ROUTES = frozenset({"interaction_callback", "webhook_execute", "webhook_message"})
# Path parameters that make up discord.py's rate-limit bucket "major parameters".
MAJOR_PARAMETERS = ("channel_id", "guild_id", "interaction_id", "application_id", "token")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class UploadedFile:
    """A file part (``files[n]``) of a multipart request."""

    index: int
    filename: str
    data: bytes
    content_type: str


@dataclass
class ParsedBody:
    """A request's JSON body (``payload_json`` for multipart, None if empty) and its files."""

    json: Any
    files: list[UploadedFile]


PARSED = web.RequestKey("parsed", ParsedBody)


class BadRequestBody(Exception):
    """The body was not valid JSON."""


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response with exactly ``Content-Type: application/json``, as Discord sends.

    discord.py only parses bodies whose content type is exactly that (no charset).
    """
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def error(status: int, body: JSON) -> web.Response:
    """A JSON error response."""
    return json_response(body, status)


class RateLimits:
    """Per-bucket request counters that produce Discord's X-RateLimit-* headers."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_LIMIT_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def headers(self, bucket: str, major: str) -> dict[str, str]:
        """Count one request in its bucket and return the headers describing the bucket."""
        now = time.time()
        reset_at, used = self._windows.get((bucket, major), (0.0, 0))
        if now >= reset_at:
            reset_at, used = now + self.window, 0
        used += 1
        self._windows[(bucket, major)] = (reset_at, used)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_at - now:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(bucket.encode()).hexdigest()[:32],
        }


class RestApi:
    """The REST routes, working on the stand-in's state."""

    def __init__(self, standin: DiscordStandIn) -> None:
        self.standin = standin
        self.rate_limits = RateLimits()

    def routes(self) -> list[web.RouteDef]:
        """All routes, for ``app.add_routes``."""
        p = API_PREFIX
        webhook = p + "/webhooks/{application_id}/{token}"
        message = p + "/channels/{channel_id}/messages/{message_id}"
        return [
            web.get(p + "/users/@me", self.get_current_user),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_gateway_bot),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/applications/{application_id}/commands", self.get_commands),
            web.put(p + "/applications/{application_id}/commands", self.put_commands),
            web.get(
                p + "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands
            ),
            web.put(
                p + "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands
            ),
            web.post(
                p + "/interactions/{interaction_id}/{token}/callback",
                self.interaction_callback,
                name="interaction_callback",
            ),
            web.post(webhook, self.create_followup, name="webhook_execute"),
            web.route(
                "*",
                webhook + "/messages/{message_id}",
                self.webhook_message,
                name="webhook_message",
            ),
            web.get(p + "/channels/{channel_id}", self.get_channel),
            web.post(p + "/channels/{channel_id}/messages", self.create_message),
            web.get(message, self.get_message),
            web.patch(message, self.edit_message),
            web.delete(message, self.delete_message),
            web.put(message + "/reactions/{emoji}/@me", self.add_reaction),
            web.post(p + "/channels/{channel_id}/typing", self.trigger_typing),
            web.get("/attachments/{attachment_id}/{filename}", self.download_attachment),
        ]

    # --- request plumbing -------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, authenticate and rate-limit-annotate every request except the gateway."""
        if request.path == "/":
            return await handler(request)
        try:
            body, files = await self._read_body(request)
            bad_json = False
        except BadRequestBody:
            body, files, bad_json = None, [], True
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            json=body,
            files=[(f.filename, len(f.data)) for f in files],
        )
        self.standin.requests.append(record)
        request[PARSED] = ParsedBody(body, files)
        match = request.match_info
        response: web.StreamResponse
        if bad_json:
            response = error(400, INVALID_JSON)
        elif match.http_exception is not None:
            status = match.http_exception.status
            log.warning(
                "unhandled Discord route: %s %s -> %s", request.method, request.path, status
            )
            self.standin.unhandled.append(record)
            response = error(
                status, {"message": f"{status}: {match.http_exception.reason}", "code": 0}
            )
        elif (
            request.path.startswith(API_PREFIX)
            and match.route.name not in TOKEN_ROUTES
            and request.headers.get("Authorization") != f"Bot {self.standin.token}"
        ):
            response = error(401, UNAUTHORIZED)
        else:
            response = await handler(request)
        record.status = response.status
        if request.path.startswith(API_PREFIX):
            resource = match.route.resource
            bucket = f"{request.method} {resource.canonical if resource else request.path}"
            major = "+".join(match.get(key, "") for key in MAJOR_PARAMETERS)
            response.headers.update(self.rate_limits.headers(bucket, major))
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.body_exists:
            return None, []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            files: list[UploadedFile] = []
            body: Any = None
            for name, value in form.items():
                if name == "payload_json":
                    text = value.file.read().decode() if isinstance(value, FileField) else value
                    body = self._parse_json(str(text))
                elif isinstance(value, FileField):
                    match = re.fullmatch(r"files\[(\d+)\]", name)
                    index = int(match.group(1)) if match else len(files)
                    files.append(
                        UploadedFile(index, value.filename, value.file.read(), value.content_type)
                    )
            return body, sorted(files, key=lambda f: f.index)
        text = await request.text()
        return (self._parse_json(text) if text else None), []

    @staticmethod
    def _parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BadRequestBody from exc

    def refuse(
        self,
        request: web.Request,
        status: int,
        body: JSON,
        interaction: StandInInteraction | None = None,
    ) -> web.Response:
        """Answer with a Discord error and record it in ``rejected`` (and on the interaction)."""
        rejection = RejectedRequest(f"{request.method} {request.path}", request[PARSED].json, body)
        self.standin.rejected.append(rejection)
        if interaction is not None:
            interaction.rejections.append(rejection)
        log.info("refused %s with %s: %s", rejection.route, status, body)
        return error(status, body)

    def _invalid(
        self,
        request: web.Request,
        errors: FormErrors,
        interaction: StandInInteraction | None = None,
    ) -> web.Response:
        return self.refuse(request, 400, errors.body(), interaction)

    def _check_message(
        self,
        request: web.Request,
        payload: Any,
        *,
        prefix: tuple[str, ...] = (),
        creating: bool,
        interaction: StandInInteraction | None = None,
    ) -> web.Response | None:
        """Validate a message body; the refusal response, or None if it is fine."""
        if not isinstance(payload, dict):
            errors = FormErrors()
            errors.add(prefix, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return self._invalid(request, errors, interaction)
        errors = validate_message(payload, prefix)
        if errors:
            return self._invalid(request, errors, interaction)
        if creating and is_empty_message(payload, bool(request[PARSED].files)):
            return self.refuse(request, 400, EMPTY_MESSAGE, interaction)
        return None

    # --- users, gateway, application ------------------------------------------------

    async def get_current_user(self, request: web.Request) -> web.Response:
        """GET /users/@me: the bot user (what ``login()`` calls)."""
        user = self.standin.bot_user.to_payload()
        user.update(
            {"verified": True, "mfa_enabled": False, "email": None, "flags": 0, "locale": "en-US"}
        )
        return json_response(user)

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response({"url": self.standin.gateway_url.rstrip("/")})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot (AutoShardedClient runs the ``shards`` it recommends)."""
        return json_response(self.standin.gateway_bot_payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me (``login()`` fetches it for the application id)."""
        return json_response(self.standin.application_payload())

    # --- application commands -------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | web.Response | None:
        if request.match_info["application_id"] != str(self.standin.application_id):
            return self.refuse(request, 404, UNKNOWN_APPLICATION)
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None
        if not guild_id.isdigit() or int(guild_id) not in self.standin.guilds:
            return self.refuse(request, 404, UNKNOWN_GUILD)
        return int(guild_id)

    async def get_commands(self, request: web.Request) -> web.Response:
        """GET global or guild commands."""
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        return json_response(self.standin.registered_commands(scope))

    async def put_commands(self, request: web.Request) -> web.Response:
        """PUT (bulk overwrite) global or guild commands, as ``CommandTree.sync()`` does."""
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        errors = validate_commands(request[PARSED].json)
        if errors:
            return self._invalid(request, errors)
        return json_response(self.standin.sync_commands(scope, request[PARSED].json))

    # --- interactions ---------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.StreamResponse:
        """POST /interactions/{id}/{token}/callback: the initial response (within 3 s, once)."""
        raw_id, token = request.match_info["interaction_id"], request.match_info["token"]
        interaction = self.standin.interactions.get(int(raw_id)) if raw_id.isdigit() else None
        if interaction is None or interaction.token != token:
            return self.refuse(request, 404, UNKNOWN_INTERACTION)
        if interaction.acknowledged:
            return self.refuse(request, 400, ALREADY_ACKNOWLEDGED, interaction)
        if interaction.expired:
            return self.refuse(request, 404, UNKNOWN_INTERACTION, interaction)
        body = request[PARSED].json
        if not isinstance(body, dict):
            body = {}
        kind = body.get("type")
        allowed = (4, 5, 9) if interaction.type == 2 else (4, 5, 6, 7, 9)
        if kind not in allowed:
            errors = FormErrors()
            errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {allowed}.")
            return self._invalid(request, errors, interaction)
        data = body.get("data") or {}
        if kind in (4, 7):
            refused = self._check_message(
                request, data, prefix=("data",), creating=kind == 4, interaction=interaction
            )
            if refused is not None:
                return refused

        interaction.response_type = kind
        interaction.acknowledged_at = asyncio.get_running_loop().time()
        interaction.callbacks.append(body)
        message: RecordedMessage | None = None
        if kind == 4:
            message = self.standin.interaction_message(interaction, data, request[PARSED].files)
            interaction.original = interaction.response = message
        elif kind == 5:
            deferred = {"flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
            interaction.original = self.standin.interaction_message(interaction, deferred, [])
        elif kind == 6:
            interaction.original = interaction.source_message
        elif kind == 7:
            message = interaction.source_message
            assert message is not None  # component interactions always have one
            self.standin.edit_message(message, data, request[PARSED].files)
            interaction.original = interaction.response = message
        else:
            interaction.modal = data
        interaction.changed()

        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        callback: JSON = {"id": str(interaction.id), "type": interaction.type}
        original = interaction.original
        if original is not None and kind in (4, 5, 7):
            callback.update(
                response_message_id=str(original.id),
                response_message_loading=original.loading,
                response_message_ephemeral=original.ephemeral,
            )
        resource: JSON = {"type": kind}
        if message is not None:
            resource["message"] = message.to_payload()
        return json_response({"interaction": callback, "resource": resource})

    def _webhook_interaction(self, request: web.Request) -> StandInInteraction | web.Response:
        interaction = self.standin.interactions_by_token.get(request.match_info["token"])
        if (
            interaction is None
            or request.match_info["application_id"] != str(self.standin.application_id)
            or not interaction.acknowledged
        ):
            return self.refuse(request, 404, UNKNOWN_WEBHOOK, interaction)
        age = asyncio.get_running_loop().time() - interaction.dispatched_at
        if age > self.standin.token_lifetime:
            return self.refuse(request, 401, INVALID_WEBHOOK_TOKEN, interaction)
        return interaction

    async def create_followup(self, request: web.Request) -> web.StreamResponse:
        """POST /webhooks/{app}/{token}: a follow-up; after a deferral the first fills the reply."""
        interaction = self._webhook_interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        body = request[PARSED].json
        refused = self._check_message(request, body, creating=True, interaction=interaction)
        if refused is not None:
            return refused
        interaction.followups.append(body)
        original = interaction.original
        if interaction.response_type == 5 and original is not None and original.loading:
            message = original
            self.standin.edit_message(
                message, {k: v for k, v in body.items() if k != "flags"}, request[PARSED].files
            )
        else:
            message = self.standin.interaction_message(interaction, body, request[PARSED].files)
            interaction.followup_messages.append(message)
        if interaction.response is None:
            interaction.response = message
        interaction.changed()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message.to_payload())
        return web.Response(status=204)

    async def webhook_message(self, request: web.Request) -> web.StreamResponse:
        """GET/PATCH/DELETE /webhooks/{app}/{token}/messages/{@original|id}."""
        interaction = self._webhook_interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        message_id = request.match_info["message_id"]
        if message_id == "@original":
            message = interaction.original
        else:
            candidates = [*interaction.messages, interaction.source_message]
            message = next(
                (m for m in candidates if m is not None and str(m.id) == message_id), None
            )
        if message is None or message.deleted:
            return self.refuse(request, 404, UNKNOWN_MESSAGE, interaction)
        if request.method == "GET":
            return json_response(message.to_payload())
        if request.method == "DELETE":
            self.standin.delete_message(message)
            return web.Response(status=204)
        if request.method != "PATCH":
            return error(405, {"message": "405: Method Not Allowed", "code": 0})
        body = request[PARSED].json
        refused = self._check_message(request, body, creating=False, interaction=interaction)
        if refused is not None:
            return refused
        interaction.edits.append(body)
        self.standin.edit_message(message, body, request[PARSED].files)
        if interaction.response is None and message is interaction.original:
            interaction.response = message
        interaction.changed()
        return json_response(message.to_payload())

    # --- channels and messages ------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        found = self.standin.find_channel(request.match_info["channel_id"])
        if found is None:
            return self.refuse(request, 404, UNKNOWN_CHANNEL)
        return json_response(found[1].to_payload())

    async def create_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages, with permission checks, limits and replies."""
        found = self.standin.find_channel(request.match_info["channel_id"])
        if found is None:
            return self.refuse(request, 404, UNKNOWN_CHANNEL)
        guild, channel = found
        permissions = guild.permissions_for(guild.members[self.standin.bot_user.id])
        if not permissions & Permission.VIEW_CHANNEL:
            return self.refuse(request, 403, MISSING_ACCESS)
        needed = (
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        )
        if not permissions & needed or (
            request[PARSED].files and not permissions & Permission.ATTACH_FILES
        ):
            return self.refuse(request, 403, MISSING_PERMISSIONS)
        body = request[PARSED].json
        refused = self._check_message(request, body, creating=True)
        if refused is not None:
            return refused
        referenced = None
        reference = body.get("message_reference")
        if reference:
            referenced = self.standin.messages.get(int(reference.get("message_id") or 0))
            if (referenced is None or referenced.deleted) and reference.get(
                "fail_if_not_exists", True
            ):
                errors = FormErrors()
                errors.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                return self._invalid(request, errors)
        message = self.standin.build_message(
            channel, self.standin.bot_user, body, request[PARSED].files, referenced=referenced
        )
        self.standin.publish(message)
        return json_response(message.to_payload())

    def _channel_message(self, request: web.Request) -> RecordedMessage | web.Response:
        found = self.standin.find_channel(request.match_info["channel_id"])
        if found is None:
            return self.refuse(request, 404, UNKNOWN_CHANNEL)
        raw_id = request.match_info["message_id"]
        message = self.standin.messages.get(int(raw_id)) if raw_id.isdigit() else None
        if (
            message is None
            or message.deleted
            or message.channel is not found[1]
            or message.ephemeral
        ):
            return self.refuse(request, 404, UNKNOWN_MESSAGE)
        return message

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{id}."""
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        return json_response(message.to_payload())

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id}/messages/{id}: only the bot's own messages."""
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        if message.author is not self.standin.bot_user:
            return self.refuse(request, 403, CANNOT_EDIT_OTHERS)
        refused = self._check_message(request, request[PARSED].json, creating=False)
        if refused is not None:
            return refused
        self.standin.edit_message(message, request[PARSED].json, request[PARSED].files)
        return json_response(message.to_payload())

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        """DELETE /channels/{id}/messages/{id}: own messages, or others' with MANAGE_MESSAGES."""
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        guild = message.guild
        assert guild is not None
        permissions = guild.permissions_for(guild.members[self.standin.bot_user.id])
        if (
            message.author is not self.standin.bot_user
            and not permissions & Permission.MANAGE_MESSAGES
        ):
            return self.refuse(request, 403, MISSING_PERMISSIONS)
        self.standin.delete_message(message)
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.StreamResponse:
        """PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me."""
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        message.reactions.append(request.match_info["emoji"])
        return web.Response(status=204)

    async def trigger_typing(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/typing."""
        if self.standin.find_channel(request.match_info["channel_id"]) is None:
            return self.refuse(request, 404, UNKNOWN_CHANNEL)
        return web.Response(status=204)

    async def download_attachment(self, request: web.Request) -> web.Response:
        """GET /attachments/{id}/{filename}: the bytes behind an attachment's ``url``."""
        raw_id = request.match_info["attachment_id"]
        attachment = self.standin.attachments.get(int(raw_id)) if raw_id.isdigit() else None
        if attachment is None:
            return web.Response(status=404, text="asset not found")
        return web.Response(body=attachment.data, content_type=attachment.content_type)
