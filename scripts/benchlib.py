"""What the benchmark scripts share: building the release binary, starting Concord
instances, databases and redis-servers on free ports of 127.0.0.1, reading INFO, CPU
time and resident sets, and loading string keys. Everything started is stopped by
`stop_all()`."""
import os, socket, subprocess, sys, tempfile, time
import redis

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "--locked", "-p", "concord"], cwd=root, check=True,
               stdout=subprocess.DEVNULL)
BIN = os.path.join(root, "target/release/concord")
tmp = tempfile.mkdtemp()
procs = []
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, secs):
    end = time.time() + secs
    while not cond():
        if time.time() > end:
            sys.exit("timed out")
        time.sleep(0.01)


def up(port):
    try:
        return redis.Redis(port=port).ping()
    except redis.ConnectionError:
        return False


def start(cmd, port):
    # BENCH_LOGS=dir keeps each server's output there (to see why one failed).
    logs = os.environ.get("BENCH_LOGS")
    err = open(os.path.join(logs, f"{port}.log"), "wb") if logs else subprocess.DEVNULL
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    procs.append(p)
    wait_for(lambda: up(port), 20)
    return p


def info(port, section="crdt"):
    # "INFO crdt" as one name: redis-py splits it on the wire but skips its INFO parser.
    return redis.Redis(port=port, decode_responses=True).execute_command(f"INFO {section}")


def field(port, name, section="crdt"):
    for line in info(port, section).splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise KeyError(name)


def database(n, extra=()):
    """Starts an n-instance database; returns (ports, processes)."""
    ports = [free_port() for _ in range(n)]
    ps = []
    for i in range(n):
        d = os.path.join(tmp, f"db{ports[0]}-{i}")
        os.makedirs(d)
        cmd = [BIN, "server", "--port", str(ports[i]), "--dir", d, "--replica-id", str(i + 1)]
        for j in range(n):
            if j != i:
                cmd += ["--peer", f"{j + 1}=127.0.0.1:{ports[j]}"]
        ps.append(start(cmd + list(extra), ports[i]))
    for p in ports:
        wait_for(lambda: info(p).count("state=up") == n - 1, 20)
    return ports, ps


def redis_server(extra=()):
    port = free_port()
    d = os.path.join(tmp, f"redis{port}")
    os.makedirs(d)
    p = start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", d, *extra], port)
    return port, p


def redis_with_replicas():
    """A Redis primary with two replicas; returns (ports, processes)."""
    port, p = redis_server()
    ports, ps = [port], [p]
    for _ in range(2):
        rp, r = redis_server(["--replicaof", "127.0.0.1", str(port)])
        ports.append(rp)
        ps.append(r)
    wait_for(lambda: field(port, "connected_slaves", "replication") == "2", 20)
    for rp in ports[1:]:
        wait_for(lambda: field(rp, "master_link_status", "replication") == "up", 20)
    return ports, ps


def cpu(ps):
    total = 0
    for p in ps:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def rss(p):
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


def load_strings(port, prefix, n):
    gen = subprocess.Popen([sys.executable, "-c", f"""
import sys
out = sys.stdout.buffer
for i in range({n}):
    k = b"{prefix}:%012d" % i
    out.write(b"*3\\r\\n$3\\r\\nSET\\r\\n$%d\\r\\n%s\\r\\n$3\\r\\nxxx\\r\\n" % (len(k), k))
"""], stdout=subprocess.PIPE)
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=gen.stdout,
                   stdout=subprocess.DEVNULL, check=True)
    gen.wait()


def settled(ports):
    vvs = {field(p, "crdt_vv") for p in ports}
    return len(vvs) == 1



def stop_all():
    """Stops every process started here."""
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()
