"""Changes to the user's files: what a change is, how it is shown, applied with a pre-image check and undone."""
