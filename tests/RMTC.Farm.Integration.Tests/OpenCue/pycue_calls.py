#!/usr/bin/env python3
"""Makes OpenCue calls as pycue does (grpcio, an insecure channel, OpenCue's method paths), one per argument, and
prints one line per call: "<call> ok <result>" or "<call> <STATUS_CODE> <details>", so a test can see exactly what was
answered and what refused. Usage: pycue_calls.py HOST:PORT CALL...
Calls: stats | launch=SPEC.xml | jobs (every job, finished included) | get=ID | find=NAME | pending=NAME | frames=ID
| kill=ID | pause=ID | resume=ID."""
import sys

import grpc

from pycue_probe import call, decode, field, job_of


def job_ref(job_id):
    return field(1, field(1, job_id))


def run(channel, name, argument):
    if name == "stats":
        call(channel, "/cue.CueInterface/GetSystemStats", b"")
        return ""
    if name == "launch":
        spec = open(argument, encoding="utf-8").read()
        names = decode(call(channel, "/job.JobInterface/LaunchSpec", field(1, spec))).get(1, [])
        return ",".join(n.decode() for n in names)
    if name == "jobs":
        seq = decode(call(channel, "/job.JobInterface/GetJobs", field(1, field(8, 1))))
        jobs = decode(seq[1][0]).get(1, []) if 1 in seq else []
        return ",".join(sorted(job_of(j)[2] for j in jobs))
    if name == "get":
        return job_of(decode(call(channel, "/job.JobInterface/GetJob", field(1, argument)))[1][0])[2]
    if name == "find":
        return job_of(decode(call(channel, "/job.JobInterface/FindJob", field(1, argument)))[1][0])[0]
    if name == "pending":
        return str(decode(call(channel, "/job.JobInterface/IsJobPending", field(1, argument))).get(1, [0])[0])
    if name == "frames":
        seq = decode(call(channel, "/job.JobInterface/GetFrames", job_ref(argument)))
        return str(len(decode(seq[1][0]).get(1, [])) if 1 in seq else 0)
    if name == "kill":
        call(channel, "/job.JobInterface/Kill", job_ref(argument) + field(2, "mallory") + field(5, "probe"))
        return ""
    if name in ("pause", "resume"):
        call(channel, "/job.JobInterface/%s" % name.capitalize(), job_ref(argument))
        return ""
    raise ValueError("unknown call " + name)


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    for arg in sys.argv[2:]:
        name, _, argument = arg.partition("=")
        try:
            print(("%s ok %s" % (name, run(channel, name, argument))).rstrip(), flush=True)
        except grpc.RpcError as e:
            print("%s %s %s" % (name, e.code().name, e.details()), flush=True)


if __name__ == "__main__":
    main()
