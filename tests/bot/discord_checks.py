"""Checks shared by the bot's tests: Discord's embed limits, clean cuts, escaping."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import discord

LIMITS = {
    "embeds": 10,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field.name": 256,
    "field.value": 1024,
    "footer": 2048,
    "author": 256,
    "total": 6000,
}


def embed_problems(embeds: Sequence[discord.Embed | Mapping[str, Any]]) -> list[str]:
    """Every way ``embeds`` (objects or their JSON) break Discord's limits; empty when fine."""
    problems = []
    if len(embeds) > LIMITS["embeds"]:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for number, embed in enumerate(embeds):
        data: dict[str, Any] = dict(embed.to_dict() if isinstance(embed, discord.Embed) else embed)
        parts = {
            "title": data.get("title") or "",
            "description": data.get("description") or "",
            "footer": (data.get("footer") or {}).get("text") or "",
            "author": (data.get("author") or {}).get("name") or "",
        }
        for key, text in parts.items():
            if len(text) > LIMITS[key]:
                problems.append(f"embed {number} {key}: {len(text)}")
        total += sum(len(text) for text in parts.values())
        fields = data.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            problems.append(f"embed {number}: {len(fields)} fields")
        for field in fields:
            for key in ("name", "value"):
                text = field.get(key) or ""
                if not text.strip():
                    problems.append(f"embed {number}: empty field {key}")
                if len(text) > LIMITS[f"field.{key}"]:
                    problems.append(f"embed {number} field {key}: {len(text)}")
                total += len(text)
    if total > LIMITS["total"]:  # summed over all the embeds of a message, as Discord does
        problems.append(f"total {total}")
    return problems


def unescape(text: str) -> str:
    """What a reader sees of escaped text."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def cut_problem(original: str, shown: str) -> str | None:
    """Why ``shown`` is not ``original`` or a clean cut of it (None when it is)."""
    original = original.strip()
    seen = unescape(shown)
    if seen == original:
        return None
    if not seen.endswith("…"):
        return f"changed without an ellipsis: {seen[-40:]!r}"
    kept = seen[:-1].rstrip()
    if not original.startswith(kept):
        return f"not a prefix: {kept[-40:]!r}"
    rest = original[len(kept) :]
    if not re.match(r"[,;:–—-]*\s", rest):
        return f"cut mid-word: ...{kept[-20:]!r} | {rest[:20]!r}"
    return None


def unescaped_markdown(shown: str) -> list[str]:
    """Markdown characters in escaped text that are not escaped."""
    return [m.group() for m in re.finditer(r"(?<!\\)(?:\\\\)*[*_|~`]", shown)]
