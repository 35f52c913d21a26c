"""``python -m hub`` runs the command line (same as the ``hub`` script)."""

from hub.cli import main

main()
