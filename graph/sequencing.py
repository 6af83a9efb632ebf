"""Sequencing: jobs and their sample sheets."""
