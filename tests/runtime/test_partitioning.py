"""Baton's partitioner picks the partition aiokafka's `DefaultPartitioner` (and so the Java
client) picks: records published either way for one key land together."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from baton_runtime.partitioning import KeyPartitioner, murmur2


def test_murmur2_is_kafkas_for_every_tail_length() -> None:
    rng = random.Random(20261124)
    for length in range(0, 260):
        for _ in range(8):
            data = rng.randbytes(length)
            assert murmur2(data) == aiokafka_murmur2(data), data


def test_known_kafka_hashes() -> None:
    # From the Java client's UtilsTest.testMurmur2 (signed there; unsigned here).
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-long-string") == -985981536 & 0xFFFFFFFF


def test_partition_for_a_key_is_the_default_partitioners() -> None:
    ours, theirs = KeyPartitioner(), DefaultPartitioner()
    rng = random.Random(7)
    for count in (1, 3, 12, 50):
        partitions = list(range(count))
        for n in range(500):
            key = f"email:{rng.getrandbits(128):032x}:{n}".encode()
            assert ours(key, partitions, []) == theirs(key, partitions, [])


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert {ours(None, [0, 1, 2], []) for _ in range(200)} <= {0, 1, 2}
