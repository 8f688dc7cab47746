"""`facefold serve`: the web app to see and fix the people, one more adapter over core/."""
