"""HTTP plumbing every service shares: bounded answers and deadlines, one retry policy."""
