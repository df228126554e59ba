"""``python -m dstream.service`` is the ``dstream`` command."""

from .cli import main

if __name__ == "__main__":
    main()
