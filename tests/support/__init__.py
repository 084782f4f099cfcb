"""Helpers shared by test packages: throwaway PostgreSQL servers and real `scriberr` processes."""
