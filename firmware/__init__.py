"""Firmware."""
