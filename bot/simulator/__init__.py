"""A local HTTP server that imitates Runway and the CometAPI gateway (see ``server``)."""

from .gate import Fault
from .server import RunwaySimulator, SimulatorOptions

__all__ = ["Fault", "RunwaySimulator", "SimulatorOptions"]
