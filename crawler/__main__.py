"""``python -m crawler``: the ``lastseen`` command (how ``lastseen serve`` starts its workers)."""

from crawler.cli import main

main(prog_name="lastseen")
