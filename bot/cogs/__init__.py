"""One cog per feature, each loaded as an extension by :class:`bot.client.CitebotBot`."""
