"""`otop serve`: scans over HTTP as JSON, and state changes as Server-Sent Events."""
