"""The redis-server of `make run` keeps its data when it is killed and started
again: queued jobs and channel groups survive a restart."""

import time

import redis

from heygem_site import embedded_redis
from tests.processes import stop

#: appendfsync everysec: a write reaches the file within about two seconds.
SYNCED_S = 2.5


def restart(proc, port, data, **kwargs):
    time.sleep(SYNCED_S)
    proc.kill()
    proc.wait()
    return embedded_redis.start(port, data, **kwargs)


def test_a_killed_redis_comes_back_with_its_data(tmp_path):
    port, data = embedded_redis.free_port(), tmp_path / "redis"
    proc = embedded_redis.start(port, data)
    try:
        redis.Redis(port=port).rpush("rq:queue:gpu", "job-1")
        proc = restart(proc, port, data)  # SIGKILL: no snapshot taken, the append-only file has it
        assert redis.Redis(port=port).lrange("rq:queue:gpu", 0, -1) == [b"job-1"]
    finally:
        stop(proc)


def test_a_snapshot_only_directory_keeps_its_data_when_the_append_only_file_starts(tmp_path):
    port, data = embedded_redis.free_port(), tmp_path / "redis"
    # As HeyGem before the append-only file: snapshots only.
    proc = embedded_redis.start(port, data, persist=False)
    client = redis.Redis(port=port)
    client.config_set("dbfilename", "heygem.rdb")
    client.rpush("rq:queue:gpu", "old-job")
    client.save()
    try:
        proc = restart(proc, port, data)
        client = redis.Redis(port=port)
        assert client.lrange("rq:queue:gpu", 0, -1) == [b"old-job"]
        client.rpush("rq:queue:gpu", "new-job")
        proc = restart(proc, port, data)
        assert redis.Redis(port=port).lrange("rq:queue:gpu", 0, -1) == [b"old-job", b"new-job"]
    finally:
        stop(proc)
