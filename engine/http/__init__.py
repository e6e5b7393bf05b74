"""The HTTP service and its tokens."""
