"""The commands' work: sync, restore, status. No printing, no exit: they return or raise."""
