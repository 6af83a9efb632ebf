"""Notifications: the notification list and sending one."""
