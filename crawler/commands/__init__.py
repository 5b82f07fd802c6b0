"""The `lastseen` subcommands, one module per area; each lists its commands in COMMANDS."""
