"""The playground: the fake Discord, the Runway simulator and the real bot in one process, with a
web page that plays a server (``runway-bot playground``)."""
