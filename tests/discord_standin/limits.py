"""Discord's documented limits on message and command payloads.

A broken limit becomes HTTP 400 with Discord's nested "Invalid Form Body" error
(https://discord.com/developers/docs/reference#error-messages)::

    {"code": 50035, "message": "Invalid Form Body",
     "errors": {"embeds": {"0": {"title": {"_errors": [
         {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}

discord.py flattens that into ``In embeds.0.title: Must be 256 or fewer in length.``.
Limits are from the message, embed, component and application-command docs, except
the 2,048 characters of an embed's URLs, which the embed docs leave out; the ``code``
strings for component-layout rules follow Discord's naming style but Discord does not
document them. URLs are measured as sent, i.e. after any percent-encoding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .payloads import JSON

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_TEXT_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
EMBED_URL_MAX = 2048
EMBED_URLS = (
    ("url",),
    ("author", "url"),
    ("author", "icon_url"),
    ("footer", "icon_url"),
    ("image", "url"),
    ("thumbnail", "url"),
)
"""Where an embed holds URLs: a key, or an object's key."""
ACTION_ROWS_MAX = 5
ACTION_ROW_ITEMS_MAX = 5
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512
CUSTOM_ID_MAX = 100
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100
COMPONENTS_V2_MAX = 40
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_CHOICES_MAX = 25
CHAT_INPUT_COMMANDS_MAX = 100

EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15

ACTION_ROW = 1
BUTTON = 2
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
LINK_STYLE = 5
PREMIUM_STYLE = 6

_COMMAND_NAME = re.compile(rf"^[-_'\w]{{1,{COMMAND_NAME_MAX}}}$")


class FormErrors:
    """Errors collected by path, rendered in Discord's nested ``_errors`` format."""

    def __init__(self) -> None:
        self._tree: JSON = {}

    def __bool__(self) -> bool:
        return bool(self._tree)

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record one error at ``path`` (list indexes become string keys, as Discord sends)."""
        node = self._tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def body(self) -> JSON:
        """The 400 response body."""
        return {"code": 50035, "message": "Invalid Form Body", "errors": self._tree}


def _max_length(errors: FormErrors, path: Sequence[str | int], value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
"""What RFC 3986 lets stand in a URL (and ``%`` of encodings already made)."""


def _as_sent(url: Any) -> Any:
    """A URL with every other character percent-encoded, as Discord measures it; anything
    else unchanged."""
    return quote(url, safe=URL_SAFE, errors="surrogatepass") if isinstance(url, str) else url


def _required(errors: FormErrors, path: Sequence[str | int], value: Any) -> bool:
    if value is None or value == "":
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return False
    return True


def validate_message(payload: JSON, prefix: Sequence[str | int] = ()) -> FormErrors:
    """Check a message create/edit body (or an interaction callback's ``data``).

    ``prefix`` is where the message sits in the request, e.g. ``("data",)`` for callbacks.
    Only the fields present are checked, so partial edits validate too.
    """
    errors = FormErrors()
    _max_length(errors, (*prefix, "content"), payload.get("content"), CONTENT_MAX)
    embeds = payload.get("embeds") or []
    _max_length(errors, (*prefix, "embeds"), embeds, EMBEDS_MAX)
    total = sum(_validate_embed(errors, (*prefix, "embeds", i), e) for i, e in enumerate(embeds))
    if total > EMBED_TOTAL_MAX:
        errors.add(
            (*prefix, "embeds"),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    components = payload.get("components") or []
    v2 = bool(int(payload.get("flags") or 0) & IS_COMPONENTS_V2)
    path = (*prefix, "components")
    if v2:
        if _count_components(components) > COMPONENTS_V2_MAX:
            errors.add(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {COMPONENTS_V2_MAX} or fewer in length."
            )
    else:
        _max_length(errors, path, components, ACTION_ROWS_MAX)
    for i, component in enumerate(components):
        if not v2 and component.get("type") != ACTION_ROW:
            errors.add(
                (*path, i), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        _validate_component(errors, (*path, i), component)
    return errors


def _validate_embed(errors: FormErrors, path: tuple[str | int, ...], embed: JSON) -> int:
    """Check one embed; return its character count toward the 6000 total."""
    title = embed.get("title") or ""
    description = embed.get("description") or ""
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    _max_length(errors, (*path, "title"), title, EMBED_TITLE_MAX)
    _max_length(errors, (*path, "description"), description, EMBED_DESCRIPTION_MAX)
    _max_length(errors, (*path, "footer", "text"), footer, EMBED_FOOTER_TEXT_MAX)
    _max_length(errors, (*path, "author", "name"), author, EMBED_AUTHOR_NAME_MAX)
    for keys in EMBED_URLS:
        value: Any = embed
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        _max_length(errors, (*path, *keys), _as_sent(value), EMBED_URL_MAX)
    fields = embed.get("fields") or []
    _max_length(errors, (*path, "fields"), fields, EMBED_FIELDS_MAX)
    total = len(title) + len(description) + len(footer) + len(author)
    for j, embed_field in enumerate(fields):
        name, value = embed_field.get("name"), embed_field.get("value")
        if _required(errors, (*path, "fields", j, "name"), name):
            _max_length(errors, (*path, "fields", j, "name"), name, EMBED_FIELD_NAME_MAX)
            total += len(name)
        if _required(errors, (*path, "fields", j, "value"), value):
            _max_length(errors, (*path, "fields", j, "value"), value, EMBED_FIELD_VALUE_MAX)
            total += len(value)
    return total


def _children(component: JSON) -> list[JSON]:
    children = list(component.get("components") or [])
    if component.get("accessory"):
        children.append(component["accessory"])
    return children


def _count_components(components: list[JSON]) -> int:
    return sum(1 + _count_components(_children(c)) for c in components)


def _validate_component(errors: FormErrors, path: tuple[str | int, ...], component: JSON) -> None:
    kind = component.get("type")
    if kind == BUTTON:
        _validate_button(errors, path, component)
    elif kind in SELECT_TYPES:
        _validate_select(errors, path, component)
    if kind == ACTION_ROW:
        items = component.get("components") or []
        _max_length(errors, (*path, "components"), items, ACTION_ROW_ITEMS_MAX)
        if len(items) > 1 and any(item.get("type") in SELECT_TYPES for item in items):
            errors.add(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
    for i, child in enumerate(component.get("components") or []):
        _validate_component(errors, (*path, "components", i), child)
    if component.get("accessory"):
        _validate_component(errors, (*path, "accessory"), component["accessory"])


def _validate_button(errors: FormErrors, path: tuple[str | int, ...], button: JSON) -> None:
    _max_length(errors, (*path, "label"), button.get("label"), BUTTON_LABEL_MAX)
    _max_length(errors, (*path, "custom_id"), button.get("custom_id"), CUSTOM_ID_MAX)
    style = button.get("style")
    if style == LINK_STYLE:
        if _required(errors, (*path, "url"), button.get("url")):
            _max_length(errors, (*path, "url"), _as_sent(button["url"]), BUTTON_URL_MAX)
        if button.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_LINK_CUSTOM_ID",
                "A link button cannot have a custom_id",
            )
    elif style == PREMIUM_STYLE:
        _required(errors, (*path, "sku_id"), button.get("sku_id"))
    else:
        _required(errors, (*path, "custom_id"), button.get("custom_id"))
        if button.get("url") is not None:
            errors.add(
                (*path, "url"), "BUTTON_COMPONENT_URL_NOT_ALLOWED", "Only link buttons have a url"
            )


def _validate_select(errors: FormErrors, path: tuple[str | int, ...], select: JSON) -> None:
    if _required(errors, (*path, "custom_id"), select.get("custom_id")):
        _max_length(errors, (*path, "custom_id"), select["custom_id"], CUSTOM_ID_MAX)
    _max_length(errors, (*path, "placeholder"), select.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    options = select.get("options") or []
    _max_length(errors, (*path, "options"), options, SELECT_OPTIONS_MAX)
    for i, option in enumerate(options):
        for key in ("label", "value", "description"):
            _max_length(errors, (*path, "options", i, key), option.get(key), SELECT_OPTION_TEXT_MAX)


def is_empty_message(payload: JSON, has_files: bool) -> bool:
    """Whether a new message has nothing to show (Discord answers 50006)."""
    keys = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")
    return not has_files and not any(payload.get(key) for key in keys)


def validate_commands(commands: Any) -> FormErrors:
    """Check a bulk-overwrite body for application commands."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    chat_input = [c for c in commands if c.get("type", 1) == 1]
    if len(chat_input) > CHAT_INPUT_COMMANDS_MAX:
        errors.add(
            (), "BASE_TYPE_MAX_LENGTH", f"Must be {CHAT_INPUT_COMMANDS_MAX} or fewer in length."
        )
    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        key = (str(command.get("name")), int(command.get("type", 1)))
        if key in seen:
            errors.add(
                (),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique ({key[0]})",
            )
        seen.add(key)
        is_chat_input = key[1] == 1
        _validate_named(errors, (i,), command, check_description=is_chat_input)
        if is_chat_input:
            _validate_options(errors, (i, "options"), command.get("options") or [])
    return errors


def _validate_named(
    errors: FormErrors, path: tuple[str | int, ...], item: JSON, *, check_description: bool
) -> None:
    name = item.get("name")
    if not isinstance(name, str) or not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if check_description:
        description = item.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= COMMAND_DESCRIPTION_MAX:
            errors.add(
                (*path, "description"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {COMMAND_DESCRIPTION_MAX} in length.",
            )


def _validate_options(errors: FormErrors, path: tuple[str | int, ...], options: list[JSON]) -> None:
    _max_length(errors, path, options, COMMAND_OPTIONS_MAX)
    optional_seen = False
    for i, option in enumerate(options):
        _validate_named(errors, (*path, i), option, check_description=True)
        _max_length(errors, (*path, i, "choices"), option.get("choices") or [], COMMAND_CHOICES_MAX)
        if option.get("type") in (1, 2):
            _validate_options(errors, (*path, i, "options"), option.get("options") or [])
        elif option.get("required"):
            if optional_seen:
                errors.add(
                    (*path, i, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
