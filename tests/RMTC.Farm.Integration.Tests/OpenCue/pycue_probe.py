#!/usr/bin/env python3
"""Talks to the coordinator's OpenCue port the way pycue does: grpcio (gRPC C-core), an insecure channel,
OpenCue's method paths, protobuf bytes on the wire. Messages are encoded by hand so no generated code (and no
OpenCue checkout) is needed. Usage: pycue_probe.py HOST:PORT SPEC.xml ROOT_SPEC.xml; prints one line per step."""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    if isinstance(value, int):
        # Negative int32/int64 values go on the wire as 64-bit two's complement (ten bytes), as protobuf writes them.
        return varint(number << 3) + varint(value if value >= 0 else value + (1 << 64))
    data = value.encode() if isinstance(value, str) else value
    return varint((number << 3) | 2) + varint(len(data)) + data


def decode(data):
    """Fields of one message: {number: [int or bytes, ...]}."""
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            length, i = read_varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wire)
        fields.setdefault(number, []).append(value)
    return fields


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def call(channel, path, request, metadata=None):
    method = channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return method(request, timeout=30, metadata=metadata)


def job_of(job_bytes):
    job = decode(job_bytes)
    return job[1][0].decode(), job.get(2, [0])[0], job[3][0].decode()


def main():
    address, spec_path, root_path = sys.argv[1:4]
    channel = grpc.insecure_channel(address)

    call(channel, "/cue.CueInterface/GetSystemStats", b"")
    print("probe ok")

    spec = open(spec_path, encoding="utf-8").read()
    response = decode(call(channel, "/job.JobInterface/LaunchSpecAndWait", field(1, spec)))
    job_id, state, name = job_of(decode(response[1][0])[1][0])
    print("launched %s %s state=%d" % (name, job_id, state))

    found_id, _, _ = job_of(decode(call(channel, "/job.JobInterface/FindJob", field(1, name)))[1][0])
    print("found %s" % found_id)

    pending = decode(call(channel, "/job.JobInterface/IsJobPending", field(1, name))).get(1, [0])[0]
    print("pending=%d" % pending)

    criteria = field(7, "rnd") + field(8, 1)
    jobs = decode(call(channel, "/job.JobInterface/GetJobs", field(1, criteria)))
    print("search=%d" % len(decode(jobs[1][0]).get(1, [])))

    call(channel, "/job.JobInterface/Kill", field(1, field(1, job_id)) + field(2, "probe") + field(5, "done"))
    _, state, _ = job_of(decode(call(channel, "/job.JobInterface/GetJob", field(1, job_id)))[1][0])
    print("after kill state=%d" % state)

    try:
        call(channel, "/job.JobInterface/LaunchSpec", field(1, open(root_path, encoding="utf-8").read()))
        print("root accepted")
    except grpc.RpcError as e:
        print("refused %s %s" % (e.code().name, e.details()))

    try:
        call(channel, "/job.JobInterface/FindJob", field(1, "nobody-nothing-none_x"))
    except grpc.RpcError as e:
        print("missing %s" % e.code().name)


if __name__ == "__main__":
    main()
