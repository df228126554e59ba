"""Fixtures for every test folder.

The real servers (``redis_server``, ``redis_url``, ``redis_store``, ``kafka_server``,
``kafka_bootstrap``, ``apache_kafka_server``, ``apache_kafka_bootstrap``) are defined in the
repository's root ``conftest.py``, so that the doctests of the modules get the same servers as
the tests.
"""
