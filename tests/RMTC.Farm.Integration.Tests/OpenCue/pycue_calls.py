#!/usr/bin/env python3
"""Makes OpenCue calls as pycue does (grpcio, an insecure channel, OpenCue's method paths), one per argument, and
prints one line per call: "<call> ok <result>" or "<call> <STATUS_CODE> <details>", so a test can see exactly what was
answered and what refused. Usage: pycue_calls.py HOST:PORT CALL...
Calls: stats | launch=SPEC.xml | jobs (every job, finished included) | get=ID | find=NAME | pending=NAME | frames=ID
| kill=ID | pause=ID | resume=ID | jobnames | layers=JOB_ID (layer ids) | layerframes=LAYER_ID | findlayer=JOB/LAYER
| getlayer=LAYER_ID | findframe=JOB/LAYER/NUMBER | getframe=FRAME_ID | updated=JOB_ID@UNIX_SECONDS[@LAYER_ID] | shows | activeshows
| findshow=NAME | whiteboard=SHOW | allocs | allocfind=NAME | allochosts=NAME | subscriptions=SHOW
| defaultservices (how many) | hosts | findhost=NAME | hostmem=NAME (MEMORY_KB:IDLE_KB:FREE_KB) | hostprocs=NAME | procs | waitprocs=TEXT (polls procs until one's text holds
TEXT, up to 60 s) | raw=/package.Service/Method (an empty request)
| waitframes=LAYER_ID@TEXT (polls the layer's frames until their text holds TEXT, up to 120 s) | services=LAYER_ID
| jobinfo=JOB_ID (PRIORITY:HAS_COMMENT) | setpriority=JOB_ID@N | setmaxretries=JOB_ID@N | comment=JOB_ID@SUBJECT@MESSAGE
| comments=JOB_ID | retryframe=FRAME_ID | killframe=FRAME_ID | eatframe=FRAME_ID | retryframes=JOB_ID[@STATE]
| killframes=JOB_ID[@STATE] | eatframes=JOB_ID[@RANGE] | layerretry=LAYER_ID | layerkill=LAYER_ID | layereat=LAYER_ID
| token=TOKEN (sent as a bearer token with every later call; empty: none again)."""
import struct
import sys
import time

import grpc

import pycue_probe
from pycue_probe import decode, field, job_of

# Metadata sent with every call from a "token=" call on: pycue sends none, a site's wrapper may send a wrangler token.
METADATA = []


def call(channel, path, request):
    return pycue_probe.call(channel, path, request, METADATA or None)

FRAME_STATES = ["WAITING", "SETUP", "RUNNING", "SUCCEEDED", "DEPEND", "DEAD", "EATEN", "CHECKPOINT"]
JOB_STATES = ["PENDING", "FINISHED", "STARTUP", "SHUTDOWN", "POSTED"]
HARDWARE_STATES = ["UP", "DOWN", "REBOOTING", "REBOOT_WHEN_IDLE", "REPAIR"]
LOCK_STATES = ["OPEN", "LOCKED", "NIMBY_LOCKED"]


def text(fields, number):
    return fields[number][0].decode() if number in fields else ""


def num(fields, number):
    return fields.get(number, [0])[0]


def real(fields, number):
    return struct.unpack("<f", fields[number][0])[0] if number in fields else 0.0


def frame_text(frame_bytes):
    """A Frame as "NAME:STATE:RETRIES:LAST_RESOURCE"."""
    f = decode(frame_bytes)
    return "%s:%s:%d:%s" % (text(f, 2), FRAME_STATES[num(f, 5)], num(f, 6), text(f, 15))


def frames_text(response):
    seq = decode(response)
    return ",".join(frame_text(f) for f in (decode(seq[1][0]).get(1, []) if 1 in seq else []))


def host_text(host_bytes):
    """A Host as "NAME:STATE:LOCK:CORES:IDLE_CORES:MEMORY_KB:GPUS:TAGS"."""
    h = decode(host_bytes)
    return "%s:%s:%s:%g:%g:%d:%g:%s" % (text(h, 2), HARDWARE_STATES[num(h, 25)], LOCK_STATES[num(h, 26)], real(h, 6),
                                        real(h, 7), num(h, 8), real(h, 28), "|".join(t.decode() for t in h.get(24, [])))


def procs_text(response):
    """Procs as "HOST|JOB|FRAME|DISPATCH_TIME|RESERVED_MEMORY_KB", in the answer's order."""
    seq = decode(response)
    procs = decode(seq[1][0]).get(1, []) if 1 in seq else []
    out = []
    for proc in procs:
        p = decode(proc)
        out.append("%s|%s|%s|%d|%d" % (text(p, 2).split("/")[0], text(p, 4), text(p, 5), num(p, 9), num(p, 10)))
    return ",".join(out)


def shows_text(response):
    """Shows as "NAME:ACTIVE:PENDING_JOBS:CREATED_JOBS:CREATED_FRAMES"."""
    seq = decode(response)
    out = []
    for show in (decode(seq[1][0]).get(1, []) if 1 in seq else []):
        s = decode(show)
        stats = decode(s[9][0]) if 9 in s else {}
        out.append("%s:%d:%d:%d:%d" % (text(s, 2), num(s, 8), num(stats, 4), num(stats, 5), num(stats, 6)))
    return ",".join(out)


def whiteboard_text(response):
    """A show's whiteboard group as "NAME:LEVEL:JOB_IDS(|):INLINE_JOB_NAMES(|):WAITING_FRAMES:PENDING_JOBS"."""
    g = decode(decode(response)[1][0])
    stats = decode(g[13][0]) if 13 in g else {}
    jobs = "|".join(j.decode() for j in g.get(12, []))
    inline = "|".join(text(decode(j), 3) for j in g.get(18, []))
    return "%s:%d:%s:%s:%d:%d" % (text(g, 2), num(g, 9), jobs, inline, num(stats, 4), num(stats, 5))


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
    if name == "jobnames":
        return ",".join(sorted(n.decode() for n in decode(call(channel, "/job.JobInterface/GetJobNames", field(1, field(8, 1)))).get(1, [])))
    if name == "layers":
        seq = decode(call(channel, "/job.JobInterface/GetLayers", job_ref(argument)))
        return ",".join(text(decode(l), 1) for l in decode(seq[1][0]).get(1, []))
    if name == "layerframes":
        return frames_text(call(channel, "/job.LayerInterface/GetFrames", field(1, field(1, argument))))
    if name in ("findlayer", "getlayer"):
        request = field(1, argument.split("/")[0]) + field(2, argument.split("/")[1]) if name == "findlayer" else field(1, argument)
        layer = decode(decode(call(channel, "/job.LayerInterface/%s" % ("FindLayer" if name == "findlayer" else "GetLayer"), request))[1][0])
        return "%s %s %s" % (text(layer, 1), text(layer, 2), text(layer, 3))
    if name == "findframe":
        job, layer, number = argument.split("/")
        return frame_text(decode(call(channel, "/job.FrameInterface/FindFrame", field(1, job) + field(2, layer) + field(3, int(number))))[1][0])
    if name == "getframe":
        return frame_text(decode(call(channel, "/job.FrameInterface/GetFrame", field(1, argument)))[1][0])
    if name == "updated":
        job_id, _, rest = argument.partition("@")
        since, _, layer_id = rest.partition("@")
        layer_filter = field(3, field(1, field(1, layer_id))) if layer_id else b""
        r = decode(call(channel, "/job.JobInterface/GetUpdatedFrames", job_ref(job_id) + field(2, int(since)) + layer_filter))
        updated = decode(r[3][0]).get(1, []) if 3 in r else []
        states = ",".join("%s:%s" % (text(decode(u), 1), FRAME_STATES[num(decode(u), 2)]) for u in updated)
        return "%s %d %s" % (JOB_STATES[num(r, 1)], num(r, 2), states)
    if name in ("shows", "activeshows"):
        return shows_text(call(channel, "/show.ShowInterface/%s" % ("GetShows" if name == "shows" else "GetActiveShows"), b""))
    if name == "findshow":
        return shows_text(field(1, field(1, decode(call(channel, "/show.ShowInterface/FindShow", field(1, argument)))[1][0])))
    if name == "allocs":
        seq = decode(call(channel, "/facility.AllocationInterface/GetAll", b""))
        out = []
        for alloc in (decode(seq[1][0]).get(1, []) if 1 in seq else []):
            a = decode(alloc)
            stats = decode(a[6][0]) if 6 in a else {}
            out.append("%s:%s:%d:%d:%d" % (text(a, 2), text(a, 4), num(stats, 6), num(stats, 8), num(stats, 7)))
        return ",".join(out)
    if name in ("allocfind", "allochosts"):
        if name == "allocfind":
            a = decode(decode(call(channel, "/facility.AllocationInterface/Find", field(1, argument)))[1][0])
            return "%s:%s" % (text(a, 2), text(a, 4))
        seq = decode(call(channel, "/facility.AllocationInterface/GetHosts", field(1, field(2, argument))))
        return ",".join(text(decode(h), 2) for h in (decode(seq[1][0]).get(1, []) if 1 in seq else []))
    if name == "subscriptions":
        seq = decode(call(channel, "/show.ShowInterface/GetSubscriptions", field(1, field(2, argument))))
        out = []
        for sub in (decode(seq[1][0]).get(1, []) if 1 in seq else []):
            u = decode(sub)
            out.append("%s:%s:%s:%d:%d" % (text(u, 2), text(u, 3), text(u, 5), num(u, 6), num(u, 7)))
        return ",".join(out)
    if name == "defaultservices":
        seq = decode(call(channel, "/service.ServiceInterface/GetDefaultServices", b""))
        return str(len(decode(seq[1][0]).get(1, [])) if 1 in seq else 0)
    if name == "whiteboard":
        return whiteboard_text(call(channel, "/show.ShowInterface/GetJobWhiteboard", field(1, field(2, argument))))
    if name == "hosts":
        seq = decode(call(channel, "/host.HostInterface/GetHosts", field(1, b"")))
        return ",".join(host_text(h) for h in (decode(seq[1][0]).get(1, []) if 1 in seq else []))
    if name == "findhost":
        return host_text(decode(call(channel, "/host.HostInterface/FindHost", field(1, argument)))[1][0])
    if name == "hostmem":
        h = decode(decode(call(channel, "/host.HostInterface/FindHost", field(1, argument)))[1][0])
        return "%d:%d:%d" % (num(h, 8), num(h, 9), num(h, 17))
    if name == "hostprocs":
        return procs_text(call(channel, "/host.HostInterface/GetProcs", field(1, field(2, argument))))
    if name == "procs":
        return procs_text(call(channel, "/host.ProcInterface/GetProcs", field(1, b"")))
    if name == "waitprocs":
        deadline = time.time() + 60
        while True:
            procs = procs_text(call(channel, "/host.ProcInterface/GetProcs", field(1, b"")))
            if argument in procs or time.time() > deadline:
                return procs
            time.sleep(0.01)
    if name == "waitframes":
        layer_id, _, wanted = argument.partition("@")
        deadline = time.time() + 120
        while True:
            frames = frames_text(call(channel, "/job.LayerInterface/GetFrames", field(1, field(1, layer_id))))
            if wanted in frames or time.time() > deadline:
                return frames
            time.sleep(0.01)
    if name == "services":
        layer = decode(decode(call(channel, "/job.LayerInterface/GetLayer", field(1, argument)))[1][0])
        return ",".join(s.decode() for s in layer.get(13, []))
    if name == "jobinfo":
        job = decode(decode(call(channel, "/job.JobInterface/GetJob", field(1, argument)))[1][0])
        return "%d:%s" % (num(job, 11), bool(num(job, 16)))
    if name in ("setpriority", "setmaxretries"):
        job_id, _, value = argument.partition("@")
        call(channel, "/job.JobInterface/%s" % ("SetPriority" if name == "setpriority" else "SetMaxRetries"), job_ref(job_id) + field(2, int(value)))
        return ""
    if name == "comment":
        job_id, subject, message = argument.split("@")
        call(channel, "/job.JobInterface/AddComment", job_ref(job_id) + field(2, field(3, "alice") + field(4, subject) + field(5, message)))
        return ""
    if name == "comments":
        r = decode(call(channel, "/job.JobInterface/GetComments", job_ref(argument)))
        comments = decode(r[1][0]).get(1, []) if 1 in r else []
        return "|".join("%s:%s:%s" % (text(decode(c), 3), text(decode(c), 4), text(decode(c), 5)) for c in comments)
    if name in ("retryframe", "killframe", "eatframe"):
        extra = field(2, "mallory") + field(3, "4242") + field(4, "ws-07") + field(5, "stuck") if name == "killframe" else b""
        call(channel, "/job.FrameInterface/%s" % name[:-5].capitalize(), field(1, field(1, argument)) + extra)
        return ""
    if name in ("retryframes", "killframes", "eatframes"):
        job_id, _, narrow = argument.partition("@")
        criteria = b""
        if narrow and name == "eatframes":
            criteria = field(5, narrow)
        elif narrow:
            criteria = field(4, field(1, FRAME_STATES.index(narrow)))
        extra = field(3, "mallory") + field(6, "stuck") if name == "killframes" else b""
        call(channel, "/job.JobInterface/%s" % (name[:-6].capitalize() + "Frames"), job_ref(job_id) + field(2, criteria) + extra)
        return ""
    if name in ("layerretry", "layerkill", "layereat"):
        call(channel, "/job.LayerInterface/%sFrames" % name[5:].capitalize(), field(1, field(1, argument)))
        return ""
    if name == "token":
        METADATA[:] = [("authorization", "Bearer " + argument)] if argument else []
        return ""
    if name == "raw":
        return str(len(call(channel, argument, b"")))
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
