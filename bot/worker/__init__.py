"""The job engine: one scheduler loop (``loop``) and the steps it runs on jobs (``submit``,
``poll``, ``cancel``, ``deliver``) through a shared ``StepContext`` (``context``), with the
timing rules (``scheduling``), request building (``submission``) and failure wording
(``failures``). It reaches Discord only through :class:`bot.ports.DeliveryPort`."""

from .loop import Worker

__all__ = ["Worker"]
