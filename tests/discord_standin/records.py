"""What the stand-in records: REST requests, refusals, messages and interactions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from .limits import BUTTON, EPHEMERAL, LOADING
from .payloads import (
    JSON,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInMember,
    StandInUser,
    iso,
    utcnow,
)

T = TypeVar("T")


class Signal:
    """Wakes waiters whenever recorded state changes, so they can re-check a condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self, check: Callable[[], T | None], timeout: float, describe: Callable[[], str]
    ) -> T:
        """Return ``check()`` once it is not None; raise TimeoutError(describe()) after timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(describe())
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                continue


@dataclass
class RecordedRequest:
    """One REST request the client made. The Authorization header is never kept."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, int]] = field(default_factory=list)
    status: int | None = None


class RejectedRequest(NamedTuple):
    """A request the stand-in refused the way Discord would: route, request body, error body."""

    route: str
    payload: Any
    error: JSON


@dataclass(eq=False)
class RecordedMessage:
    """A message as Discord stores it; edits update it in place."""

    id: int
    channel: StandInChannel
    guild: StandInGuild | None
    author: StandInUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: JSON | None = None
    message_reference: JSON | None = None
    referenced_message: RecordedMessage | None = None
    attachments: list[StandInAttachment] = field(default_factory=list)
    mentions: list[StandInUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    created_at: datetime = field(default_factory=utcnow)
    edited_at: datetime | None = None
    deleted: bool = False
    reactions: list[str] = field(default_factory=list)

    @property
    def channel_id(self) -> int:
        """The channel (or thread) the message is in."""
        return self.channel.id

    @property
    def guild_id(self) -> int | None:
        """The guild the message is in."""
        return self.guild.id if self.guild else None

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees it (flag 64)."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is a deferred response still showing "is thinking..." (flag 128)."""
        return bool(self.flags & LOADING)

    def iter_components(self) -> Iterator[JSON]:
        """Every component, depth first (rows, their buttons and selects, V2 containers)."""
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            yield component
            children = list(component.get("components") or [])
            if component.get("accessory"):
                children.append(component["accessory"])
            stack.extend(reversed(children))

    @property
    def buttons(self) -> list[JSON]:
        """All buttons on the message."""
        return [c for c in self.iter_components() if c.get("type") == BUTTON]

    def find_component(self, custom_id: str) -> JSON | None:
        """The component with this custom_id, if the message has one."""
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    def to_payload(self, *, with_reference: bool = True) -> JSON:
        """The message object, as REST responses and MESSAGE_CREATE carry it."""
        payload: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel.id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [self._mention_payload(user) for user in self.mentions],
            "mention_roles": [str(role_id) for role_id in self.mention_roles],
            "attachments": [attachment.to_payload() for attachment in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        if self.guild is not None:
            payload["guild_id"] = str(self.guild.id)
            member = self._member(self.author)
            if member is not None and self.webhook_id is None:
                payload["member"] = member.to_payload(with_user=False)
        if self.webhook_id is not None:
            payload["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            payload["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            payload["message_reference"] = self.message_reference
            if with_reference:
                referenced = self.referenced_message
                payload["referenced_message"] = (
                    referenced.to_payload(with_reference=False) if referenced else None
                )
        return payload

    def _member(self, user: StandInUser) -> StandInMember | None:
        return self.guild.members.get(user.id) if self.guild else None

    def _mention_payload(self, user: StandInUser) -> JSON:
        payload = user.to_payload()
        member = self._member(user)
        if member is not None:
            payload["member"] = member.to_payload(with_user=False)
        return payload


class StandInInteraction:
    """An interaction the stand-in dispatched, and everything the bot did in answer.

    ``callbacks``, ``followups`` and ``edits`` hold the accepted raw request bodies in
    order; ``rejections`` the refused ones. ``response`` is the message the user sees
    as the answer (see :meth:`wait_for_response`).
    """

    def __init__(
        self,
        *,
        id: int,
        token: str,
        type: int,
        name: str,
        guild: StandInGuild,
        channel: StandInChannel,
        member: StandInMember,
        payload: JSON,
        deadline: float,
        source_message: RecordedMessage | None = None,
    ) -> None:
        self.id = id
        self.token = token
        self.type = type
        self.name = name
        self.guild = guild
        self.channel = channel
        self.member = member
        self.payload = payload
        self.source_message = source_message
        self.callbacks: list[JSON] = []
        self.followups: list[JSON] = []
        self.edits: list[JSON] = []
        self.rejections: list[RejectedRequest] = []
        self.response_type: int | None = None
        self.original: RecordedMessage | None = None
        self.response: RecordedMessage | None = None
        self.followup_messages: list[RecordedMessage] = []
        self.modal: JSON | None = None
        loop = asyncio.get_running_loop()
        self.dispatched_at = loop.time()
        self.acknowledged_at: float | None = None
        self.deadline = deadline
        self._signal = Signal()
        loop.call_later(deadline, self._signal.notify)

    def __repr__(self) -> str:
        return f"<StandInInteraction id={self.id} type={self.type} name={self.name!r}>"

    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return self.response_type is not None

    @property
    def expired(self) -> bool:
        """Whether the 3-second window passed without an accepted callback."""
        elapsed = asyncio.get_running_loop().time() - self.dispatched_at
        return not self.acknowledged and elapsed > self.deadline

    @property
    def messages(self) -> list[RecordedMessage]:
        """The response message (if any) followed by the follow-up messages, in order."""
        found = (
            [self.original] if self.original and self.original is not self.source_message else []
        )
        return found + [m for m in self.followup_messages if m not in found]

    def changed(self) -> None:
        """Wake waiters (called by the stand-in after each accepted request)."""
        self._signal.notify()

    async def wait_for_response(
        self,
        timeout: float = 10.0,
        *,
        predicate: Callable[[RecordedMessage], bool] | None = None,
    ) -> RecordedMessage:
        """Wait until the user sees an answer, and return that message.

        The answer is the reply (callback type 4), the deferred reply once an edit or the
        first follow-up fills it (type 5), the updated component message (type 7, or type 6
        then an edit), or the first follow-up after a type 6. The message is live: later
        edits show in it. Pass ``predicate`` to wait for a particular state (e.g. the last
        of several progressive edits). Raises TimeoutError early if the bot let the
        3-second acknowledgement window pass.
        """

        def check() -> RecordedMessage | None:
            if self.expired:
                raise TimeoutError(self._explain(f"was not acknowledged within {self.deadline} s"))
            if self.response is not None and (predicate is None or predicate(self.response)):
                return self.response
            return None

        return await self._signal.wait_for(
            check, timeout, lambda: self._explain(f"got no matching response within {timeout} s")
        )

    def _explain(self, problem: str) -> str:
        lines = [f"interaction {self.name!r} ({self.id}) {problem}."]
        lines.append(f"callbacks={self.callbacks} followups={self.followups} edits={self.edits}")
        lines.extend(f"refused: {r.route} -> {r.error}" for r in self.rejections)
        return "\n".join(lines)
