"""Inventory basics: search, nested locations and labels, to find and group one's things."""
