"""``python -m rectify``: the same as the ``rectify`` command."""

from rectify.cli import main

if __name__ == "__main__":
    main()
