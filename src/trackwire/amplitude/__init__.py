"""amplitude package."""
