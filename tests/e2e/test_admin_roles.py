"""End to end: admin_roles grants /reindex by role id, so a copied role name grants nothing."""

from __future__ import annotations

import pytest

from tests.e2e.world import World, let_everyone_use

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_a_role_only_named_like_an_admin_role_grants_nothing(world: World) -> None:
    """A member whose own role is also named "Editors" is refused; the real Editors may reindex."""
    let_everyone_use(world, "reindex")
    copied = world.server.add_role(world.guild, "Editors")
    impostor = world.server.add_member(world.guild, "impostor", roles=[copied])

    refused = await world.server.invoke_slash(world.guild, world.general, impostor, "reindex")
    refusal = await refused.wait_for_response()
    allowed = await world.server.invoke_slash(world.guild, world.general, world.editor, "reindex")
    summary = await allowed.wait_for_response(
        timeout=15, predicate=lambda m: m.content.startswith("**Reindex finished.**")
    )

    assert refusal.ephemeral and refusal.content.startswith("Sorry, only server managers")
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    assert [role.name for role in guild.roles].count("Editors") == 2  # the bot saw the copy
    assert summary.ephemeral and "removed 0, skipped 0." in summary.content
