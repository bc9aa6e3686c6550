"""mtglacier: the command line of glacierlib (argparse, one library call per command)."""
