"""Acting on many things at once: a selection from the cards page or a group; actions run in the task worker
with live progress, cancellable."""
