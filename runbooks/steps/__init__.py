"""The thin step definitions of the runbooks (parse, call the library, record evidence, assert), loaded by the plugin."""
