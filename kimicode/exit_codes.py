"""Process exit codes, shared by every command so scripts can rely on them."""

OK = 0
ERROR = 1  # the work could not be done (API error, nothing to pack, ...)
USAGE = 2  # the user asked for something invalid (bad flag, bad config, no key)
BLOCKED = 3  # reserved: unapplied edits (the review hook blocks with ERROR, as git hooks expect non-zero)
INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
