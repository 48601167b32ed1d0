"""feedpub: a folder of Markdown posts in, standards-valid RSS 2.0 and Atom 1.0 feeds out."""

__version__ = "0.1.0"
