"""The composition root: the ``scc`` command, the demo and the replay wire every component."""
