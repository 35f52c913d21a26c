"""``python -m entrypoints`` runs the command line (same as the ``hub`` script)."""

from entrypoints.cli import main

main()
