"""Groups of things (a herd, a floor, a van's kit): their cards, pages, combined readings and map."""
