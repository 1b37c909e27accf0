"""The shotsmith command line: one module per command, the shared options and helpers beside them."""
