"""Tasks: their definitions (service) and, later, their execution (the task master)."""
