"""Waystation: secure case management for networks that hide, shelter and move people at risk."""
