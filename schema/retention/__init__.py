"""Retention: the schedule, legal holds, members' activity, the record of processing."""
