"""The node implementations, one module per family; ``kapfast.engine.factory`` maps kinds to them."""
