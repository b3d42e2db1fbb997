"""Where list entries come from: MAL export files or the MAL API."""
