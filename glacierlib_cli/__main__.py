from glacierlib_cli.main import entry_point

entry_point()
