"""Sim package."""
