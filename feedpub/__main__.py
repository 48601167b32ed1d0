"""`python -m feedpub`, and the `feedpub` script: the same command line."""

import gc


def main() -> None:
    """The command, its start-up without the cycle collector: importing click and feedpub
    (most of a build where nothing changed) makes objects by the ten thousand that live as
    long as the process, and the collector would walk them all, again and again, in vain
    (frozen, they are never walked)."""
    gc.disable()
    from feedpub.cli import main as command

    gc.freeze()
    gc.enable()
    command()


if __name__ == "__main__":
    main()
