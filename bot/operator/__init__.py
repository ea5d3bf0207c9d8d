"""What ``runway-bot jobs``, ``quota`` and ``backup`` do, on the database directly.

The operator commands open the database named by ``storage.path`` beside a running bot (they
never take the data directory's instance lock, ``bot/instance.py``) and act through the same
services as the bot: ``JobService`` and ``QuotaService``. Every command returns a
:class:`~bot.operator.common.Outcome`: a JSON-ready document and the lines a person reads.
"""

from .common import OperatorError, Outcome, Services, open_services

__all__ = ["OperatorError", "Outcome", "Services", "open_services"]
