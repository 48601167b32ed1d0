"""`python -m feedpub`: the same command line as the `feedpub` script."""

from feedpub.cli import main

main()
