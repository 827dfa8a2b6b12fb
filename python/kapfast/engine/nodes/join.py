"""join, union, combine, flatten."""
