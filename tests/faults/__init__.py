"""Fault injection for the tests: a loopback proxy that makes a healthy S3 endpoint misbehave."""
