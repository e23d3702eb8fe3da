"""Test helpers that users need too: a real single-node Kafka broker started from
Maven Central jars (:mod:`govpub.testing.kafka_broker`)."""
