"""Offline tools for the FIX package (dictionary conversion); never imported at run time."""
