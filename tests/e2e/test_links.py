"""End to end: articles whose links are too long once percent-encoded still get answers.

Discord measures a link button's URL (512 characters) and an embed field (1,024) on what
is sent, and a non-ASCII character is sent as up to 12; one over-long URL would make
Discord refuse the whole answer.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.e2e.world import World, fields

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ARTICLE = """# {title}

Published at: **2024-05-02T09:00:00+00:00**

Author: **Olga Petrova**

Original: [{publisher}]({url})

{body}
"""


async def add_article(world: World, name: str, **article: str) -> None:
    """Save a seed-format article in the collection and bring the index up to date."""
    text = ARTICLE.format(**article)
    (world.settings.collection / f"{name}.txt").write_text(text, encoding="utf-8")
    await world.engine.reindex()


async def test_a_link_too_long_for_a_button_and_a_field_only_loses_the_link(
    world: World,
) -> None:
    """A 200-character Cyrillic URL (1,224 encoded): the answer comes, citing it unlinked."""
    url = "https://vestnik.example/" + "наводнение" * 20
    title = "Varna lake barrier holds back record meltwater"
    await add_article(
        world,
        "100_varna-barrier",
        title=title,
        publisher="Vestnik Varny",
        url=url,
        body="The Varna lake barrier held back record meltwater on Tuesday, the water board said.",
    )
    _, reply = await world.ask("Did the Varna lake barrier hold back the meltwater?")

    assert not reply.content.startswith("Sorry") and reply.embeds, reply.content
    number, value = next(
        (n, f["value"]) for n, f in enumerate(fields(reply), 1) if title in f["value"]
    )
    assert f"[{number}] {title} — Vestnik Varny, Olga Petrova, 2 May 2024" in value
    assert "vestnik.example" not in value
    labels = [b.get("label") for b in reply.buttons]
    assert f"[{number}] Vestnik Varny" not in labels
    assert any(b.get("url") for b in reply.buttons)  # the other sources keep their buttons
    assert world.server.rejected == []


async def test_a_link_too_long_for_a_button_stays_linked_in_the_citation(world: World) -> None:
    """A 100-character Cyrillic URL (624 encoded): no button, but the citation links it."""
    url = "https://echo.example/" + "паром" * 20
    title = "Osmino ferry returns after the winter pause"
    await add_article(
        world,
        "101_osmino-ferry",
        title=title,
        publisher="Osmino Echo",
        url=url,
        body="The Osmino ferry returned to service on Monday after the winter pause.",
    )
    _, reply = await world.ask("When did the Osmino ferry return to service?")

    assert not reply.content.startswith("Sorry") and reply.embeds, reply.content
    number, value = next(
        (n, f["value"]) for n, f in enumerate(fields(reply), 1) if title in f["value"]
    )
    sent = quote(url, safe=":/")
    assert len(sent) == 621
    assert f"[{number}] [{title}]({sent}) — Osmino Echo, Olga Petrova, 2 May 2024" in value
    assert f"[{number}] Osmino Echo" not in [b.get("label") for b in reply.buttons]
    assert world.server.rejected == []
