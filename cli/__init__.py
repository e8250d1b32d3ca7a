"""Command-line interface of l2h (installed as the ``l2h_cli`` package; entry point ``l2h``)."""
