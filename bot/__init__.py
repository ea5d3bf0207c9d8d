"""runway-discord-bot: animate images and restyle videos with Runway, from Discord."""

__version__ = "0.1.0"
