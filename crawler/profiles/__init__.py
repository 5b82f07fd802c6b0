"""Browser profiles: an investigator's signed-in browser state, kept encrypted, used by captures."""
